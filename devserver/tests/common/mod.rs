//! The devserver binary as the tests start it: on a free port, with its
//! banner read until it serves, stopped when dropped; plain HTTP calls and
//! tokens from `devserver token`.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_devserver");

pub struct Server {
    child: Child,
    pub port: u16,
    /// Everything the devserver printed so far (banner and log), by line.
    output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// The lines printed so far.
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn start(envs: &[(&str, &str)]) -> (Server, Vec<String>) {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .env("PORT", port.to_string())
        .env_remove("STORE")
        .env_remove("MAILER")
        .env_remove("SEED_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("devserver starts");
    let stdout = child.stdout.take().expect("stdout");
    // Read on for the whole run, so the log stays readable (and the
    // devserver never blocks on a full pipe).
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
    let server = Server {
        child,
        port,
        output,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = |lines: &[String]| lines.iter().any(|l| l.starts_with("Serving the API"));
    while !ready(&server.output()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = server.output();
    assert!(ready(&lines), "devserver did not start: {lines:?}");
    (server, lines)
}

/// A token for the devserver on `port` (its sign-in provider's issuer).
pub fn token(port: u16, sub: &str, email: &str) -> String {
    let out = Command::new(BIN)
        .env("PORT", port.to_string())
        .args(["token", "--sub", sub, "--email", email])
        .output()
        .expect("token command");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// One HTTP/1.1 request; returns status, headers (lower-cased) and body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, serde_json::Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_lowercase(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}
