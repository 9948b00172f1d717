//! SASL for the stand-in: ANONYMOUS, which the SDK always uses (it carries
//! its credential in `$cbs` put-token requests instead), and PLAIN, which
//! some other AMQP clients use with a SAS key. Any PLAIN credential passes:
//! the stand-in checks nothing.

use fe2o3_amqp::{
    acceptor::{sasl_acceptor::SaslServerFrame, SaslAcceptor},
    types::{
        primitives::{Array, Symbol},
        sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse},
    },
};

const ANONYMOUS: &str = "ANONYMOUS";
const PLAIN: &str = "PLAIN";

/// Accepts SASL ANONYMOUS and PLAIN, refuses every other mechanism.
#[derive(Debug, Clone, Default)]
pub(super) struct PermissiveSasl;

impl SaslAcceptor for PermissiveSasl {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(vec![Symbol::from(ANONYMOUS), Symbol::from(PLAIN)])
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        let code = match init.mechanism.as_str() {
            ANONYMOUS | PLAIN => SaslCode::Ok,
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
