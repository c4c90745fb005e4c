//! Reading YAML and JSON documents with errors that name the place inside them.

use serde::de::DeserializeOwned;

/// A document error: the path inside the document (`.` for the whole
/// document) and the reason.
pub(crate) type DocError = (String, String);

fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> DocError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    (if path.is_empty() || path == "?" { ".".to_owned() } else { path }, inner)
}

/// Deserializes a YAML document (JSON is YAML too).
pub(crate) fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, DocError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(path_error)
}

/// Deserializes a JSON document.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, DocError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| (".".to_owned(), e.to_string()))?;
    Ok(value)
}

/// Deserializes a JSON value.
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DocError> {
    serde_path_to_error::deserialize(value).map_err(path_error)
}

/// Deserializes a document whose format follows from its file name:
/// `.json` is JSON, anything else YAML.
pub(crate) fn from_named<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, DocError> {
    if name.ends_with(".json") { from_json(text) } else { from_yaml(text) }
}
