//! A lean HTTP/1.1 load generator for the benchmarks: one keep-alive
//! connection per client, each request written as prepared bytes, each
//! response read just far enough to know its status and skip its body.
//!
//! Why not reqwest: a general client (connection pool, URL parsing, header
//! maps, tower layers) spends about as much CPU per request as the server
//! does, and on a two-core machine every cycle it takes is taken from the
//! server under measurement. This client is still a real HTTP client on a
//! real socket: the server sees exactly what curl would send.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and returns the response status once the whole
    /// response (headers and `Content-Length` body) has been read.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<u16> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let (status, head, body) = loop {
            if let Some(parsed) = parse_head(&self.buf)? {
                break parsed;
            }
            self.fill().await?;
        };
        while self.buf.len() < head + body {
            self.fill().await?;
        }
        Ok(status)
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// Keep-alive connections shared by concurrent clients: each request takes
/// an idle connection (or opens one) and gives it back when it succeeded,
/// so N clients end up holding N connections.
#[derive(Clone)]
pub struct Pool {
    addr: SocketAddr,
    idle: Arc<Mutex<Vec<Conn>>>,
}

impl Pool {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            idle: Arc::default(),
        }
    }

    /// Sends one request; a connection that failed is dropped, not reused.
    pub async fn send(&self, request: &[u8]) -> std::io::Result<u16> {
        let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let mut conn = match idle {
            Some(c) => c,
            None => Conn::open(self.addr).await?,
        };
        let status = conn.send(request).await?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        Ok(status)
    }
}

/// (status, header length, body length) once the head is complete.
fn parse_head(buf: &[u8]) -> std::io::Result<Option<(u16, usize, usize)>> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(head)) => {
            let status = response.code.ok_or_else(|| invalid("no status"))?;
            let mut body = 0;
            for h in response.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    body = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or_else(|| invalid("bad content-length"))?;
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(invalid("chunked responses are not expected here"));
                }
            }
            Ok(Some((status, head, body)))
        }
        Err(e) => Err(invalid(&e.to_string())),
    }
}

/// The bytes of a `POST` with a JSON body and a bearer token.
pub fn post_json(addr: SocketAddr, path: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_complete_only_with_its_blank_line() {
        let full = b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_head(&full[..20]).unwrap(), None);
        let (status, head, body) = parse_head(full).unwrap().unwrap();
        assert_eq!((status, body), (201, 5));
        assert_eq!(&full[head..], b"hello");
    }

    #[test]
    fn chunked_responses_are_refused_rather_than_misread() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err());
    }
}
