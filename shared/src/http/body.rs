//! Request bodies: CSV files (multipart or raw) and JSON.

use bytes::Bytes;
use http::header;
use lambda_http::Request;
use serde::de::DeserializeOwned;

use super::{ApiError, query, refuse_nul};

/// The body's bytes, refused (413) past `limit`. API Gateway decodes base64 bodies
/// before they get here.
fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = req.body();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

fn content_type(req: &Request) -> &str {
    req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// A CSV file sent to the API, and the `tenant_id` form field if one came with it.
#[derive(Debug)]
pub struct CsvUpload {
    pub file_name: String,
    pub bytes: Bytes,
    pub tenant_id: Option<String>,
}

/// Reads a CSV upload: `multipart/form-data` with a `file` field (and optionally a
/// `tenant_id` field), or the CSV itself as the body (`text/csv`), its name from the
/// `file_name` query parameter.
pub async fn csv_upload(req: &Request, limit: usize) -> Result<CsvUpload, ApiError> {
    let bytes = Bytes::copy_from_slice(body_bytes(req, limit)?);
    let content_type = content_type(req);
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let upload = match mime.as_str() {
        "multipart/form-data" => multipart(content_type, bytes).await,
        "text/csv" | "application/csv" | "text/plain" | "application/octet-stream" | "" => Ok(CsvUpload {
            file_name: query(req, "file_name").unwrap_or("upload.csv").to_owned(),
            bytes,
            tenant_id: None,
        }),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "a {other} body cannot carry a CSV file; send multipart/form-data with a file field, or text/csv"
        ))),
    }?;
    refuse_nul("the file name", &upload.file_name)?;
    Ok(upload)
}

async fn multipart(content_type: &str, bytes: Bytes) -> Result<CsvUpload, ApiError> {
    let bad = |e: multer::Error| ApiError::BadRequest(format!("the multipart body cannot be read: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    let (mut file, mut tenant_id) = (None, None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.csv").to_owned();
                file = Some((name, field.bytes().await.map_err(bad)?));
            }
            Some("tenant_id") => tenant_id = Some(field.text().await.map_err(bad)?),
            _ => {}
        }
    }
    let (file_name, bytes) = file.ok_or_else(|| ApiError::BadRequest("the form has no file field".into()))?;
    Ok(CsvUpload { file_name, bytes, tenant_id })
}

/// The body as a JSON object of type `T`; `None` for no body (whitespace is not JSON).
/// Every body the API takes is an object: anything else (an array, which serde would
/// read into a struct field by field) is refused, as is a string holding a NUL
/// character, which no text column can store.
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<Option<T>, ApiError> {
    let bytes = body_bytes(req, limit)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let malformed = |e: serde_json::Error| ApiError::MalformedJson(e.to_string());
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    if !value.is_object() {
        return Err(ApiError::MalformedJson("the body must be a JSON object".into()));
    }
    refuse_nul_in_json(&value)?;
    serde_json::from_value(value).map(Some).map_err(malformed)
}

fn refuse_nul_in_json(value: &serde_json::Value) -> Result<(), ApiError> {
    use serde_json::Value;
    match value {
        Value::String(text) => refuse_nul("a string in the body", text),
        Value::Array(items) => items.iter().try_for_each(refuse_nul_in_json),
        Value::Object(fields) => fields.iter().try_for_each(|(name, value)| {
            refuse_nul("a field name in the body", name)?;
            refuse_nul_in_json(value)
        }),
        _ => Ok(()),
    }
}
