//! A real Azurite Blob service per test: `azurite-blob` on 127.0.0.1, port 0 (the
//! port is read from its first lines of output, so there is no port race), in
//! memory, capped at 64 MB, without telemetry; killed when dropped.
//!
//! `scripts/setup/azurite.sh` installs it and exports `KVWATCH_AZURITE`; without it
//! the tests fail with a message saying so, they never skip.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use kvwatch::coordinate::blob::connection::{DEV_ACCOUNT, DEV_ACCOUNT_KEY};
use kvwatch::coordinate::blob::{BlobAuth, BlobClient, BlobClientOptions, SharedKey};
use kvwatch::pipeline::clock::SystemClock;
use kvwatch::sink::secret::Secret;
use reqwest::Url;

/// A running Azurite.
pub struct Azurite {
    child: Child,
    port: u16,
    https: bool,
    stderr: Arc<Mutex<String>>,
}

/// How long Azurite may take to start on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn launcher() -> String {
    match std::env::var("KVWATCH_AZURITE") {
        Ok(path) if Path::new(&path).exists() => path,
        _ => panic!(
            "Azurite is missing: KVWATCH_AZURITE does not name the azurite-blob launcher. \
             Run `source scripts/setup/azurite.sh` (scripts/test.sh does) and try again."
        ),
    }
}

impl Azurite {
    /// Azurite over plain http.
    pub fn start() -> Azurite {
        Azurite::spawn(&[], false)
    }

    /// Azurite over https with the test PKI (`KVWATCH_TEST_PKI`, made by
    /// scripts/setup/python.sh) and basic OAuth: bearer tokens are checked for
    /// issuer, audience and lifetime (not signature).
    pub fn start_https_oauth() -> Azurite {
        let pki = std::env::var("KVWATCH_TEST_PKI").unwrap_or_else(|_| {
            panic!("KVWATCH_TEST_PKI is not set: run `source scripts/setup/python.sh` (scripts/test.sh does)")
        });
        let cert = format!("{pki}/server.pem");
        let key = format!("{pki}/server.key");
        Azurite::spawn(&["--cert", &cert, "--key", &key, "--oauth", "basic"], true)
    }

    fn spawn(extra: &[&str], https: bool) -> Azurite {
        let mut child = Command::new(launcher())
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--inMemoryPersistence",
                "--extentMemoryLimit",
                "64",
                "--disableTelemetry",
                "--silent",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Azurite ({}): {e}", launcher()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr_pipe).read_to_string(&mut text);
            if let Ok(mut s) = sink.lock() {
                s.push_str(&text);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining after the port line, so Azurite never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("successfully listens on ").nth(1) {
                    let port = rest
                        .trim()
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => Azurite {
                child,
                port,
                https,
                stderr,
            },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "Azurite did not say which port it listens on within {START_TIMEOUT:?}; its errors: {}",
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                );
            }
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The development account's blob endpoint.
    pub fn endpoint(&self) -> Url {
        endpoint_at(self.port, self.https)
    }

    /// A connection string for the development account.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={};",
            self.endpoint()
        )
    }

    /// A Shared Key client for `container` (created if missing).
    pub async fn client(&self, container: &str) -> BlobClient {
        let client = client_at(&self.endpoint(), container, shared_key(), options());
        client
            .create_container()
            .await
            .expect("create the container");
        client
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The development account's endpoint at a port (Azurite's, or a forwarder's).
pub fn endpoint_at(port: u16, https: bool) -> Url {
    let scheme = if https { "https" } else { "http" };
    Url::parse(&format!("{scheme}://127.0.0.1:{port}/{DEV_ACCOUNT}")).expect("endpoint")
}

/// The development account's key.
pub fn shared_key() -> BlobAuth {
    BlobAuth::SharedKey(SharedKey::new(DEV_ACCOUNT, &Secret::new(DEV_ACCOUNT_KEY)).expect("key"))
}

/// Client options for tests: a short timeout, so a cut connection fails fast.
pub fn options() -> BlobClientOptions {
    BlobClientOptions {
        timeout: Duration::from_secs(2),
        ca_pem: None,
    }
}

/// A client on `endpoint` (no container creation).
pub fn client_at(
    endpoint: &Url,
    container: &str,
    auth: BlobAuth,
    options: BlobClientOptions,
) -> BlobClient {
    BlobClient::new(endpoint, container, auth, options, Arc::new(SystemClock)).expect("client")
}
