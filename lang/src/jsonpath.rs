//! JSON paths as written in `expect json ".checks[0].name" == "db"`: `.` is the
//! whole document, `.name` a field, `[N]` a list element, `["odd key"]` a field whose
//! name is not a plain word. Parsed here so the checker can reject a bad path before
//! anything runs; evaluated by the stdlib.

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonSegment {
    /// An object field.
    Field(String),
    /// A list element (negative counts from the end).
    Index(i64),
}

/// Parses a JSON path; the error says what is wrong and at which byte.
pub fn parse(path: &str) -> Result<Vec<JsonSegment>, (usize, String)> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'.') && bytes.first() != Some(&b'[') {
        return Err((
            0,
            String::from("a JSON path starts with `.` (e.g. `.status`)"),
        ));
    }
    if path == "." {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'-'))
                {
                    end += 1;
                }
                if end == start {
                    return Err((i, String::from("`.` must be followed by a field name")));
                }
                out.push(JsonSegment::Field(path[start..end].to_string()));
                i = end;
            }
            b'[' => {
                let close = path[i..]
                    .find(']')
                    .map(|p| i + p)
                    .ok_or((i, String::from("`[` is not closed by `]`")))?;
                let inner = path[i + 1..close].trim();
                if let Some(key) = inner.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
                    out.push(JsonSegment::Field(key.to_string()));
                } else {
                    let index = inner.parse::<i64>().map_err(|_| {
                        (
                            i,
                            format!("`[{inner}]` is neither an index nor a quoted key"),
                        )
                    })?;
                    out.push(JsonSegment::Index(index));
                }
                i = close + 1;
            }
            other => {
                return Err((
                    i,
                    format!("unexpected `{}`; use `.field` or `[index]`", other as char),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_indexes_and_quoted_keys() {
        assert_eq!(parse("."), Ok(vec![]));
        assert_eq!(
            parse(".checks[0].name"),
            Ok(vec![
                JsonSegment::Field("checks".into()),
                JsonSegment::Index(0),
                JsonSegment::Field("name".into())
            ])
        );
        assert_eq!(
            parse("[\"a b\"][-1]"),
            Ok(vec![
                JsonSegment::Field("a b".into()),
                JsonSegment::Index(-1)
            ])
        );
    }

    #[test]
    fn rejects_malformed_paths() {
        assert!(parse("status").is_err());
        assert!(parse(".a..b").is_err());
        assert!(parse(".a[0").is_err());
        assert!(parse(".a[x]").is_err());
        assert!(parse(".a b").is_err());
    }
}
