//! Turns a local HTTP request into the API Gateway HTTP API (v2) event a
//! Lambda function receives, so the handlers run exactly as deployed.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Request;
use serde_json::{Value, json};

pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub claims: Option<HashMap<String, String>>,
    pub request_id: String,
}

pub fn to_lambda_request(incoming: &Incoming<'_>) -> Result<Request, String> {
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in &incoming.headers {
        headers
            .entry(name.to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let raw_query = incoming.query.unwrap_or("");
    let mut query: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let (body, is_base64) = match std::str::from_utf8(incoming.body) {
        _ if incoming.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(STANDARD.encode(incoming.body)), true),
    };
    let now = chrono::Utc::now();
    let authorizer = incoming
        .claims
        .as_ref()
        .map(|claims| json!({"jwt": {"claims": claims, "scopes": null}}));
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": incoming.path,
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { json!(query) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "devserver",
            "stage": "$default",
            "routeKey": "$default",
            "requestId": incoming.request_id,
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "authorizer": authorizer,
            "http": {
                "method": incoming.method,
                "path": incoming.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            }
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    lambda_http::request::from_str(&event.to_string()).map_err(|e| e.to_string())
}
