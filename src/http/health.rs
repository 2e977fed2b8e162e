//! `/health`: liveness for load balancers and the container HEALTHCHECK.
//! No auth and no Host check, since ALB health checks address the task by
//! IP and carry no token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::mcp::dispatch::Server;

pub(crate) async fn health(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "server": "mcp-commander",
        "version": env!("CARGO_PKG_VERSION"),
        "commands_running": server.tools().runner.live_groups().len(),
        "sandbox": server.tools().runner.sandbox().enforced(),
        "uid_per_principal": server.tools().spaces.separate_uids,
    }))
}
