//! The metrics endpoint against careless and hostile clients, through the real binary
//! with a low descriptor limit (`setrlimit` in the child): idle connections by the
//! thousand never cost the replay an input, clients that never finish their request
//! are disconnected by the server, and none of them keeps kvwatch from exiting after
//! `--metrics-linger`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long anything is waited for: a hang detector, not a measurement.
const PATIENCE: Duration = Duration::from_secs(120);
/// The idle connections an attacker holds open.
const IDLE_CONNECTIONS: usize = 1100;
/// The child's descriptor limit, soft and hard (so raising the soft limit cannot help).
const DESCRIPTORS: libc::rlim_t = 512;
/// The inputs replayed besides standard input.
const FILES: usize = 20;

/// One Key Vault record per file, each distinct.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    (0..FILES)
        .map(|i| {
            let record = serde_json::json!({
                "time": format!("2024-05-06T10:{i:02}:00.0000000Z"),
                "resourceId": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-LIMITS",
                "operationName": "VaultGet", "operationVersion": "2023-07-01", "category": "AuditEvent",
                "resultType": "Success", "resultSignature": "OK", "durationMs": "5",
                "callerIpAddress": "81.2.69.160", "correlationId": format!("limits-{i}"),
                "identity": { "claim": { "oid": "11111111-1111-4111-8111-000000000001", "upn": "ops@contoso.com" } },
                "properties": { "id": "https://kv-limits.vault.azure.net/", "httpStatusCode": 200, "clientInfo": "test" }
            });
            let path = dir.join(format!("input-{i:02}.json"));
            std::fs::write(&path, format!("{record}\n")).expect("write an input");
            path
        })
        .collect()
}

/// Raises this test process's own soft descriptor limit: it holds the connections.
fn raise_own_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to fill and then read.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_cur as usize > IDLE_CONNECTIONS + 200,
        "this test needs {} descriptors; the hard limit is {}",
        IDLE_CONNECTIONS + 200,
        limit.rlim_cur
    );
}

/// Starts the replay with a low descriptor limit; returns it, its stderr lines and
/// where it serves metrics.
fn start(files: &[PathBuf]) -> (Child, mpsc::Receiver<String>, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kvwatch"));
    cmd.args(["replay", "--no-progress", "--metrics-listen", "127.0.0.1:0"])
        .args(["--metrics-linger", "1s", "-"])
        .args(files)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: DESCRIPTORS,
                rlim_max: DESCRIPTORS,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("kvwatch starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(rest) = line.strip_prefix("kvwatch: serving metrics on http://") {
                let addr = rest
                    .split('/')
                    .next()
                    .and_then(|a| a.parse().ok())
                    .expect("an address");
                return (child, rx, addr);
            }
            seen.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("kvwatch never said where it serves metrics: {seen:?}");
}

/// A client that sends half a request and then nothing.
fn partial_request(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: kvwatch\r\nUser-Agent: slowloris\r\n")
        .expect("send half a request");
    s
}

/// Reads until the server closes the connection; returns what it sent.
fn read_until_closed(mut s: TcpStream, what: &str) -> String {
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{what}: the server never closed it ({e})"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Opens `n` connections at once (each given up after a while if the server never
/// takes it); returns those that connected.
fn idle_connections(addr: SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                tokio::spawn(tokio::time::timeout(
                    Duration::from_secs(20),
                    tokio::net::TcpStream::connect(addr),
                ))
            })
            .collect();
        let mut open = Vec::new();
        for t in tasks {
            if let Ok(Ok(Ok(s))) = t.await {
                open.push(s);
            }
        }
        open
    })
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("kvwatch did not exit {PATIENCE:?} after its work was done");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn replay_reads_every_input_and_exits_with_1100_idle_connections_and_a_low_descriptor_limit() {
    raise_own_descriptor_limit();
    let dir = tempfile::tempdir().expect("temp dir");
    let files = inputs(dir.path());
    let (mut child, stderr, addr) = start(&files);

    // While kvwatch waits for standard input: clients that never finish a request,
    // then far more idle connections than it has descriptors.
    let slow: Vec<TcpStream> = (0..3).map(|_| partial_request(addr)).collect();
    let idle = idle_connections(addr, IDLE_CONNECTIONS);
    for (i, s) in slow.into_iter().enumerate() {
        let answer = read_until_closed(s, &format!("partial request {i}"));
        assert!(
            !answer.contains(" 200 "),
            "a partial request got an answer: {answer:?}"
        );
    }
    // Held across the end of the replay: exit must not wait for them.
    let held: Vec<TcpStream> = (0..3).map(|_| partial_request(addr)).collect();

    let mut stdin = child.stdin.take().expect("stdin piped");
    let text = std::fs::read_to_string(&files[0]).expect("read an input");
    stdin
        .write_all(text.replace("limits-0", "limits-stdin").as_bytes())
        .expect("feed standard input");
    drop(stdin);
    let status = wait_for_exit(&mut child);
    let lines: Vec<String> = stderr.iter().collect();
    let log = lines.join("\n");
    drop((idle, held));
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        log.contains(&format!("from {} inputs", FILES + 1)),
        "every input was read:\n{log}"
    );
    assert!(!log.contains("unreadable"), "{log}");
    assert!(!log.contains("Too many open files"), "{log}");
}
