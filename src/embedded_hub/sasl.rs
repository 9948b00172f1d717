//! SASL for the hub: ANONYMOUS, which the SDK always uses (it carries its credential
//! in `$cbs` put-token requests instead), and PLAIN with a shared access key name and
//! key, which some other AMQP clients use. A PLAIN login with a key of the namespace
//! authorizes the whole connection, as on the service; a wrong one is refused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fe2o3_amqp::acceptor::{sasl_acceptor::SaslServerFrame, SaslAcceptor};
use fe2o3_amqp::types::primitives::{Array, Symbol};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};

use super::sas::SharedAccessKey;

const ANONYMOUS: &str = "ANONYMOUS";
const PLAIN: &str = "PLAIN";

/// Accepts ANONYMOUS, and PLAIN with one of the namespace's keys.
#[derive(Debug, Clone)]
pub(crate) struct KeySasl {
    keys: Arc<[SharedAccessKey]>,
    /// Set when the client logged in with PLAIN and a valid key.
    plain_login: Arc<AtomicBool>,
}

impl KeySasl {
    pub(crate) fn new(keys: Arc<[SharedAccessKey]>, plain_login: Arc<AtomicBool>) -> Self {
        KeySasl { keys, plain_login }
    }

    /// Whether a PLAIN initial response (`authzid NUL name NUL key`) names a key.
    fn plain_is_valid(&self, response: &[u8]) -> bool {
        let mut parts = response.split(|b| *b == 0);
        let (Some(_authzid), Some(name), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        self.keys
            .iter()
            .any(|k| k.name().as_bytes() == name && k.expose().as_bytes() == key)
    }
}

impl SaslAcceptor for KeySasl {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(vec![Symbol::from(ANONYMOUS), Symbol::from(PLAIN)])
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        let code = match init.mechanism.as_str() {
            ANONYMOUS => SaslCode::Ok,
            PLAIN => {
                let response = init
                    .initial_response
                    .as_deref()
                    .map_or(&[][..], |r| r.as_slice());
                if self.plain_is_valid(response) {
                    self.plain_login.store(true, Ordering::Release);
                    SaslCode::Ok
                } else {
                    SaslCode::Auth
                }
            }
            _ => SaslCode::Auth,
        };
        outcome(code)
    }

    fn on_response(&mut self, _response: SaslResponse) -> SaslServerFrame {
        // Neither mechanism sends a challenge, so no response is expected.
        outcome(SaslCode::Sys)
    }
}

fn outcome(code: SaslCode) -> SaslServerFrame {
    SaslServerFrame::Outcome(SaslOutcome {
        code,
        additional_data: None,
    })
}
