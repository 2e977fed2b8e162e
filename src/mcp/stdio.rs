//! The stdio transport: one JSON-RPC message per line on stdin, one per
//! line on stdout, nothing else on stdout (logs go to stderr).
//!
//! Each request is handled on its own task, so a long command does not
//! hold up `ping`; a single writer task owns stdout so lines never
//! interleave. A line longer than the limit is answered with an error and
//! skipped, not buffered; a line is framed as an HTTP body is
//! (`super::framing`: parse, shape, batch limits). `notifications/cancelled` aborts the named call,
//! which kills its command tree; no reply is sent for it. When stdin
//! closes, in-flight calls get the grace period, then their commands are
//! killed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use super::dispatch::Server;
use super::era::{Era, StandardHeaders};
use super::framing::{self, Refusal};
use super::jsonrpc::{self, INVALID_REQUEST};
use crate::audit::Caller;
use crate::tools::Notifier;

/// One line read from stdin.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Complete(Vec<u8>),
    /// The line exceeded the limit; its bytes were discarded up to the
    /// next newline.
    TooLong,
    Eof,
}

/// Serves stdin and stdout until stdin closes or `shutdown` resolves, then
/// drains the calls in flight (`crate::shutdown::drain`).
pub(crate) async fn serve(server: Arc<Server>, shutdown: impl Future<Output = &'static str>) -> Result<(), String> {
    let config = server.tools().config.clone();
    tracing::info!("mcp-commander serving MCP on stdio");
    let (sender, mut receiver) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = receiver.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                tracing::warn!("stdout closed; replies are dropped");
                break;
            }
        }
    });
    let mut reader = BufReader::new(tokio::io::stdin());
    let mut in_flight: JoinSet<Option<String>> = JoinSet::new();
    // Requests in flight by JSON-encoded id, for notifications/cancelled.
    let mut cancellable: HashMap<String, AbortHandle> = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        let line = tokio::select! {
            line = read_line(&mut reader, config.max_line_bytes) => line.map_err(|e| format!("cannot read stdin: {e}"))?,
            _ = &mut shutdown => break,
        };
        while let Some(done) = in_flight.try_join_next() {
            if let Ok(Some(key)) = done {
                cancellable.remove(&key);
            }
        }
        let bytes = match line {
            Line::Eof => break,
            Line::TooLong => {
                let message = format!(
                    "Invalid Request: message longer than {} bytes (MCP_MAX_LINE_BYTES); it was discarded",
                    config.max_line_bytes
                );
                refuse(&server, &sender, Refusal { code: INVALID_REQUEST, message }).await;
                continue;
            }
            Line::Complete(bytes) => bytes,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let message = match framing::read(&bytes, config.limits.max_json_depth) {
            Ok(message) => message,
            Err(refusal) => {
                refuse(&server, &sender, refusal).await;
                continue;
            }
        };
        if let Value::Array(batch) = &message
            && let Err(refusal) = framing::check_batch(batch.len(), None)
        {
            refuse(&server, &sender, refusal).await;
            continue;
        }
        if let Some(id) = jsonrpc::cancelled_request(&message) {
            // Dropping the call's future kills its command tree; no reply follows.
            if let Some(handle) = cancellable.remove(&id) {
                handle.abort();
                tracing::info!(request = %id, "request cancelled by the client");
            }
            continue;
        }
        let key = message.get("id").filter(|_| message.get("method").is_some()).map(Value::to_string);
        let server = server.clone();
        let sender = sender.clone();
        let task_key = key.clone();
        let handle = in_flight.spawn(async move {
            handle_message(&server, message, &sender).await;
            task_key
        });
        if let Some(key) = key {
            cancellable.insert(key, handle);
        }
    }
    let finished = async { while in_flight.join_next().await.is_some() {} };
    crate::shutdown::drain(finished, server.tools().runner.live_groups(), config.shutdown_grace).await;
    in_flight.abort_all();
    drop(sender);
    let _ = writer.await;
    Ok(())
}

/// Answers and records a message refused before dispatch.
async fn refuse(server: &Server, sender: &mpsc::UnboundedSender<String>, refusal: Refusal) {
    server.protocol_error(&stdio_caller(), None, refusal.code, &refusal.message, 400).await;
    send(sender, refusal.body(Era::of_header(None)));
}

/// The caller of a stdio message: the process at the other end of the pipe.
fn stdio_caller() -> Caller {
    Caller { request_id: crate::audit::request_id(), principal: "stdio".into(), ..Caller::default() }
}

async fn handle_message(server: &Server, message: Value, sender: &mpsc::UnboundedSender<String>) {
    let headers = StandardHeaders { caller: stdio_caller(), ..StandardHeaders::default() };
    match message {
        // Within its limits: `serve` checked them.
        Value::Array(batch) => {
            let mut replies = Vec::new();
            for message in batch {
                if let Some(reply) = server.handle(message, &headers).await {
                    replies.push(reply.body.into_value());
                }
            }
            if !replies.is_empty() {
                send(sender, Value::Array(replies));
            }
        }
        single => {
            let progress_sender = sender.clone();
            let notify: Notifier = Arc::new(move |notification| send(&progress_sender, notification));
            if let Some(reply) = server.handle_with(single, &headers, Some(notify)).await {
                let mut line = reply.body.text();
                line.push('\n');
                let _ = sender.send(line);
            }
        }
    }
}

fn send(sender: &mpsc::UnboundedSender<String>, message: Value) {
    let mut line = message.to_string();
    line.push('\n');
    let _ = sender.send(line);
}

/// Reads one line of at most `limit` bytes (newline excluded) without ever
/// buffering more than that.
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin), limit: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if too_long {
                Line::TooLong
            } else if line.is_empty() {
                Line::Eof
            } else {
                Line::Complete(line)
            });
        }
        let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if !too_long && line.len() + chunk.len() <= limit {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line = Vec::new();
        }
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            return Ok(if too_long { Line::TooLong } else { Line::Complete(line) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_and_bounded() {
        let input: &[u8] = b"{\"a\":1}\nxxxxxxxxxxxxxxxxxxxx\n{\"b\":2}\npartial";
        let mut reader = BufReader::with_capacity(4, input);
        assert_eq!(read_line(&mut reader, 10).await.unwrap(), Line::Complete(b"{\"a\":1}".to_vec()));
        assert_eq!(read_line(&mut reader, 10).await.unwrap(), Line::TooLong);
        assert_eq!(read_line(&mut reader, 10).await.unwrap(), Line::Complete(b"{\"b\":2}".to_vec()));
        assert_eq!(read_line(&mut reader, 10).await.unwrap(), Line::Complete(b"partial".to_vec()));
        assert_eq!(read_line(&mut reader, 10).await.unwrap(), Line::Eof);
    }
}
