//! A loopback HTTP/1.1 server for tests that need a site to fetch (feeds):
//! each connection's request head is read, then handed with the socket to
//! the test's answer.
#![allow(clippy::unwrap_used)]

use std::future::Future;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Serves on a free loopback port until the test ends; its base URL
/// (`http://127.0.0.1:PORT`). `answer` gets the request head as text.
pub async fn serve_http<F, Fut>(answer: F) -> String
where
    F: Fn(String, TcpStream) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                answer(String::from_utf8_lossy(&request).into_owned(), socket).await;
            });
        }
    });
    base
}
