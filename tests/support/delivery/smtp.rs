//! The aiosmtpd server (tests/support/smtp_sink.py) as a child process on a free
//! 127.0.0.1 port, and the messages it received, parsed by Python's email package.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::{required_env, PATIENCE};

/// How the server secures its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain SMTP.
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// A running SMTP server.
pub struct SmtpServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    out: PathBuf,
}

/// One received email.
#[derive(Debug, Clone)]
pub struct Email(pub serde_json::Value);

impl Email {
    /// A string field of the parsed message.
    pub fn get(&self, key: &str) -> String {
        self.0[key].as_str().unwrap_or("").to_owned()
    }
}

/// The folder with the throwaway PKI.
pub fn pki() -> PathBuf {
    PathBuf::from(required_env("KVWATCH_TEST_PKI"))
}

impl SmtpServer {
    /// Starts the server writing into `out`; `auth` is `user:password`.
    pub fn start(out: &Path, tls: Tls, auth: Option<&str>, fail_first: u32) -> SmtpServer {
        let python = required_env("KVWATCH_TEST_PYTHON");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .arg("--out")
            .arg(out)
            .arg("--fail-first")
            .arg(fail_first.to_string());
        let pki = if tls == Tls::None { None } else { Some(pki()) };
        match tls {
            Tls::None => cmd.args(["--tls", "none"]),
            Tls::Starttls => cmd.args(["--tls", "starttls"]),
            Tls::Implicit => cmd.args(["--tls", "implicit"]),
        };
        if let Some(pki) = pki {
            cmd.arg("--cert")
                .arg(pki.join("server.pem"))
                .arg("--key")
                .arg(pki.join("server.key"));
        }
        if let Some(auth) = auth {
            cmd.arg("--auth").arg(auth);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smtp_sink.py");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(PATIENCE)
            .expect("smtp_sink.py did not say READY");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("smtp_sink.py said {line:?}"));
        // It prints READY once listening; check it accepts before handing it out.
        super::wait_for_blocking("the SMTP server to accept", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        SmtpServer {
            child,
            port,
            out: out.to_owned(),
        }
    }

    /// The emails received so far, in order.
    pub fn emails(&self) -> Vec<Email> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
            .iter()
            .map(|p| {
                Email(
                    serde_json::from_slice(&std::fs::read(p).expect("read email"))
                        .expect("email JSON"),
                )
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
