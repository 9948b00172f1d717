//! A small DevTools-protocol client for the report's browser test: starts headless
//! Chromium on a loopback port, opens a page, records console messages, exceptions
//! and log entries (CSP violations land there), evaluates expressions and takes
//! screenshots. Every wait is bounded; the browser is killed when the client drops.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// What the page said on its consoles.
#[derive(Debug, Default, Clone)]
pub struct Console {
    /// `console.error`/`warn` calls, uncaught exceptions, and error or warning log
    /// entries (CSP violations, failed loads), as text.
    pub problems: Vec<String>,
    /// Everything else, for the failure message.
    pub other: Vec<String>,
}

/// A running headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// What the page logged so far.
    pub console: Console,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Chromium binary scripts/setup/chromium.sh exports; panics (never skips) when
/// it is missing.
pub fn chromium() -> PathBuf {
    let hint = "run the tests through scripts/test.sh, which installs Debian's chromium and exports KVWATCH_CHROMIUM";
    let path = std::env::var_os("KVWATCH_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("KVWATCH_CHROMIUM is not set: {hint}"));
    assert!(
        path.is_file(),
        "KVWATCH_CHROMIUM={} does not exist: {hint}",
        path.display()
    );
    path
}

impl Browser {
    /// Starts Chromium (headless, no network services) and attaches to a blank page.
    pub fn start(binary: &Path, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // Chromium writes the port it chose and the browser's path to this file.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "Chromium did not open its DevTools port within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let (ws, _) = tungstenite::connect(endpoint.as_str())
            .unwrap_or_else(|e| panic!("cannot connect to {endpoint}: {e}"));
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("read timeout");
        }
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            console: Console::default(),
            _profile: profile,
        };
        let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.page(domain, json!({}));
        }
        browser.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// Sends a command (to the page's session when `session` is set) and waits for
    /// its answer, recording the events that arrive meanwhile.
    fn call(&mut self, session: Option<String>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .unwrap_or_else(|e| panic!("{method}: cannot send: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer within 60 s");
            let v = self
                .read()
                .unwrap_or_else(|| panic!("{method}: the browser closed the connection"));
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method} failed: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// A command to the page.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(session), method, params)
    }

    fn read(&mut self) -> Option<Value> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).ok()?;
                    self.record(&v);
                    return Some(v);
                }
                Ok(Message::Close(_)) => return None,
                Ok(_) => {}
                Err(e) => panic!("DevTools connection failed: {e}"),
            }
        }
    }

    fn record(&mut self, v: &Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.consoleAPICalled") => {
                let text: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        a["value"]
                            .as_str()
                            .map_or_else(|| a["description"].to_string(), str::to_owned)
                    })
                    .collect();
                let line = format!(
                    "console.{}: {}",
                    p["type"].as_str().unwrap_or("?"),
                    text.join(" ")
                );
                if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) {
                    self.console.problems.push(line);
                } else {
                    self.console.other.push(line);
                }
            }
            Some("Runtime.exceptionThrown") => self
                .console
                .problems
                .push(format!("exception: {}", p["exceptionDetails"])),
            Some("Log.entryAdded") => {
                let e = &p["entry"];
                let line = format!(
                    "log {} ({}): {} {}",
                    e["level"].as_str().unwrap_or("?"),
                    e["source"].as_str().unwrap_or("?"),
                    e["text"].as_str().unwrap_or(""),
                    e["url"].as_str().unwrap_or("")
                );
                if matches!(e["level"].as_str(), Some("error" | "warning")) {
                    self.console.problems.push(line);
                } else {
                    self.console.other.push(line);
                }
            }
            _ => {}
        }
    }

    /// Opens `url` and waits for its load event, then a little longer for late
    /// console messages.
    pub fn open(&mut self, url: &str) {
        let nav = self.page("Page.navigate", json!({"url": url}));
        assert!(
            nav.get("errorText").is_none(),
            "cannot open {url}: {}",
            nav["errorText"]
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "{url}: no load event within 60 s"
            );
            let v = self
                .read()
                .expect("the browser closed the connection while loading");
            if v["method"].as_str() == Some("Page.loadEventFired") {
                break;
            }
        }
        // Flush: one round trip after load collects the messages already queued.
        self.eval("1");
    }

    /// Evaluates an expression in the page, returning its JSON value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let r = self.page("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("image data"))
            .expect("base64 image")
    }
}
