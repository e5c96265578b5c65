//! A tiny HTTP/1.1 server on 127.0.0.1 for the downloader's tests: it serves files, errors, cut
//! transfers, stalls and trickles, and counts requests per path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this body.
    Ok(Vec<u8>),
    /// This status with a short text body.
    Status(u16),
    /// 200 with the body's full Content-Length, but only the first `sent` bytes, then close.
    Truncated { body: Vec<u8>, sent: usize },
    /// 200 with the full Content-Length and the first `sent` bytes, then silence for `sleep`.
    Stall { body: Vec<u8>, sent: usize, sleep: Duration },
    /// No answer at all for `sleep`, then close.
    Silent { sleep: Duration },
    /// 200 with the full Content-Length, then the body one byte every `every` (until the
    /// client hangs up).
    Trickle { body: Vec<u8>, every: Duration },
}

type Routes = HashMap<String, Vec<Reply>>;

/// A running server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `routes`: for the `k`-th request of a path (from 0), the `k`-th reply of its list,
    /// or its last one past the end; 404 for unknown paths.
    pub fn start(routes: Vec<(String, Vec<Reply>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let routes: Arc<Routes> = Arc::new(routes.into_iter().collect());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (hits, stop) = (Arc::clone(&hits), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (routes, hits) = (Arc::clone(&routes), Arc::clone(&hits));
                    std::thread::spawn(move || serve(conn, &routes, &hits));
                }
            })
        };
        TestServer { addr, hits, stop, accept: Some(accept) }
    }

    /// The base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// How many requests `path` (starting with `/`) has had.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(mut conn: TcpStream, routes: &Routes, hits: &Mutex<HashMap<String, usize>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let k = {
        let mut hits = hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let reply = routes.get(&path).and_then(|list| list.get(k).or(list.last())).cloned().unwrap_or(Reply::Status(404));
    let head = |status: &str, len: usize| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    let _ = match reply {
        Reply::Ok(body) => conn.write_all(head("200 OK", body.len()).as_bytes()).and_then(|()| conn.write_all(&body)),
        Reply::Status(code) => {
            let text = format!("status {code}\n");
            conn.write_all(head(&format!("{code} Test"), text.len()).as_bytes())
                .and_then(|()| conn.write_all(text.as_bytes()))
        }
        Reply::Truncated { body, sent } => conn
            .write_all(head("200 OK", body.len()).as_bytes())
            .and_then(|()| conn.write_all(&body[..sent.min(body.len())])),
        Reply::Stall { body, sent, sleep } => {
            let r = conn
                .write_all(head("200 OK", body.len()).as_bytes())
                .and_then(|()| conn.write_all(&body[..sent.min(body.len())]))
                .and_then(|()| conn.flush());
            std::thread::sleep(sleep);
            r
        }
        Reply::Silent { sleep } => {
            std::thread::sleep(sleep);
            Ok(())
        }
        Reply::Trickle { body, every } => conn.write_all(head("200 OK", body.len()).as_bytes()).and_then(|()| {
            for byte in body {
                conn.write_all(&[byte])?;
                conn.flush()?;
                std::thread::sleep(every);
            }
            Ok(())
        }),
    };
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Both);
}
