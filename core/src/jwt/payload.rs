//! [`parse_payload`]: a verified token's payload parsed straight into a
//! caller's document type (the SQL shell builds `jsonb`), with the claims
//! [`check_claims`](super::check_claims) needs captured on the way.
//!
//! One pass over the JSON, no intermediate `serde_json::Map`: the parser is
//! serde_json's (the same errors, positions and 128-level nesting limit as
//! `serde_json::from_slice`), and each value is handed to a [`JsonSink`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::error::JwtError;
use super::verify::{payload_json_error, payload_not_object, CHECKED_CLAIMS};

/// Builds a document from JSON values as the parser meets them (children
/// before their parent). `'de` is the input's lifetime: borrowed strings
/// point into it.
pub trait JsonSink<'de> {
    /// A built value.
    type Node;
    /// `null`.
    fn null(&mut self) -> Self::Node;
    /// `true` / `false`.
    fn bool(&mut self, value: bool) -> Self::Node;
    /// A number, as serde_json reads it (an `i64`, a `u64` or an `f64`).
    fn number(&mut self, value: Number) -> Self::Node;
    /// A string: borrowed from the input when it had no escapes, else the
    /// unescaped text.
    fn string(&mut self, value: Cow<'de, str>) -> Self::Node;
    /// An array of built values, in order.
    fn array(&mut self, items: Vec<Self::Node>) -> Self::Node;
    /// An object's members in input order (duplicate keys included; JSON
    /// semantics are "the last one wins").
    fn object(&mut self, members: Vec<(Cow<'de, str>, Self::Node)>) -> Self::Node;
}

/// Parses a token's payload into `sink`'s document, and returns it with the
/// top-level [`CHECKED_CLAIMS`] as serde values (for
/// [`check_claims`](super::check_claims)).
///
/// Errors are exactly [`verify`](super::verify)'s for the payload: not JSON
/// ([`payload_json_error`]), or JSON but not an object
/// ([`payload_not_object`]; reported after the whole text parsed, as there).
pub fn parse_payload<'de, S: JsonSink<'de>>(
    payload: &'de [u8],
    sink: &mut S,
) -> Result<(S::Node, Map<String, Value>), JwtError> {
    let mut checked = Map::new();
    let seed = NodeSeed {
        sink: &mut *sink,
        checked: Some(&mut checked),
    };
    // Valid UTF-8 (the usual case) is parsed as text, so serde_json does not
    // re-validate every string; anything else as bytes, which gives
    // `from_slice`'s own error at its own position.
    let node = match std::str::from_utf8(payload) {
        Ok(text) => {
            let mut de = serde_json::Deserializer::from_str(text);
            seed.deserialize(&mut de)
                .and_then(|node| de.end().map(|()| node))
        }
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(payload);
            seed.deserialize(&mut de)
                .and_then(|node| de.end().map(|()| node))
        }
    }
    .map_err(|e| payload_json_error(&e))?;
    match node {
        Top::Object(node) => Ok((node, checked)),
        Top::Other(_) => Err(payload_not_object()),
    }
}

/// What the top level turned out to be.
enum Top<N> {
    Object(N),
    Other(N),
}

/// Deserializes one value into the sink. `checked` is set for the top level
/// only: there, an object's [`CHECKED_CLAIMS`] are also kept as serde values.
struct NodeSeed<'s, 'm, S> {
    sink: &'s mut S,
    checked: Option<&'m mut Map<String, Value>>,
}

impl<'de, S: JsonSink<'de>> DeserializeSeed<'de> for NodeSeed<'_, '_, S> {
    type Value = Top<S::Node>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: JsonSink<'de>> Visitor<'de> for NodeSeed<'_, '_, S> {
    type Value = Top<S::Node>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.null()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.number(Number::from(v))))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.number(Number::from(v))))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json never hands over a non-finite f64; null would be its
        // own rendering of one.
        Ok(Top::Other(match Number::from_f64(v) {
            Some(n) => self.sink.number(n),
            None => self.sink.null(),
        }))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.string(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.string(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Top::Other(self.sink.string(Cow::Owned(v))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(NodeSeed {
            sink: &mut *self.sink,
            checked: None,
        })? {
            items.push(node_of(item));
        }
        Ok(Top::Other(self.sink.array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // (serde_json gives no size hint; a claim set is usually ~10 members.)
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
        let mut checked = self.checked;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let node = match checked.as_deref_mut() {
                Some(claims) if is_checked(&key) => {
                    let value: Value = map.next_value()?;
                    let node = value_node(&mut *self.sink, &value);
                    claims.insert(key.to_string(), value);
                    node
                }
                _ => node_of(map.next_value_seed(NodeSeed {
                    sink: &mut *self.sink,
                    checked: None,
                })?),
            };
            members.push((key, node));
        }
        Ok(Top::Object(self.sink.object(members)))
    }
}

/// `CHECKED_CLAIMS.contains(key)`, without a string comparison per entry.
fn is_checked(key: &str) -> bool {
    debug_assert_eq!(CHECKED_CLAIMS, ["exp", "nbf", "aud", "iss"]);
    matches!(key.as_bytes(), b"exp" | b"nbf" | b"aud" | b"iss")
}

fn node_of<N>(top: Top<N>) -> N {
    match top {
        Top::Object(n) | Top::Other(n) => n,
    }
}

/// A serde value (one of the captured claims) into the sink.
fn value_node<'de, S: JsonSink<'de>>(sink: &mut S, value: &Value) -> S::Node {
    match value {
        Value::Null => sink.null(),
        Value::Bool(b) => sink.bool(*b),
        Value::Number(n) => sink.number(n.clone()),
        Value::String(s) => sink.string(Cow::Owned(s.clone())),
        Value::Array(items) => {
            let nodes = items.iter().map(|v| value_node(sink, v)).collect();
            sink.array(nodes)
        }
        Value::Object(obj) => {
            let members = obj
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), value_node(sink, v)))
                .collect();
            sink.object(members)
        }
    }
}

/// An object key, borrowed from the input when it had no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The header members [`verify_signature`](super::verify_signature) reads.
#[derive(Debug, Default)]
pub(crate) struct HeaderFields<'de> {
    pub alg: Option<Member<'de>>,
    pub kid: Option<Member<'de>>,
    pub crit: Option<Value>,
}

/// A header member that must be a string.
#[derive(Debug)]
pub(crate) enum Member<'de> {
    Str(Cow<'de, str>),
    NotAString,
}

/// The header's `alg`, `kid` and `crit` (the last duplicate wins, as in a
/// `serde_json::Map`), or None when the header is JSON but not an object.
/// The whole text is parsed with serde_json's limits, like
/// `serde_json::from_slice::<Value>`, without building the other members.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Option<HeaderFields<'_>>, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut de = serde_json::Deserializer::from_str(text);
            let fields = HeaderSeed.deserialize(&mut de)?;
            de.end()?;
            Ok(fields)
        }
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let fields = HeaderSeed.deserialize(&mut de)?;
            de.end()?;
            Ok(fields)
        }
    }
}

/// Builds nothing: validates and skips a value with serde_json's limits
/// (unlike `IgnoredAny`, which has no nesting limit).
struct NullSink;

impl<'de> JsonSink<'de> for NullSink {
    type Node = ();
    fn null(&mut self) {}
    fn bool(&mut self, _: bool) {}
    fn number(&mut self, _: Number) {}
    fn string(&mut self, _: Cow<'de, str>) {}
    fn array(&mut self, _: Vec<()>) {}
    fn object(&mut self, _: Vec<(Cow<'de, str>, ())>) {}
}

fn skip<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    NodeSeed {
        sink: &mut NullSink,
        checked: None,
    }
    .deserialize(d)
    .map(|_| ())
}

struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = Option<HeaderFields<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_object {
    ($($method:ident($($arg:ty),*)),*) => {
        $(fn $method<E>(self, $(_: $arg),*) -> Result<Self::Value, E> { Ok(None) })*
    };
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = Option<HeaderFields<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    not_an_object!(
        visit_unit(),
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_string(String)
    );

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq
            .next_element_seed(NodeSeed {
                sink: &mut NullSink,
                checked: None,
            })?
            .is_some()
        {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = HeaderFields::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_bytes() {
                b"alg" => fields.alg = Some(map.next_value_seed(MemberSeed)?),
                b"kid" => fields.kid = Some(map.next_value_seed(MemberSeed)?),
                b"crit" => fields.crit = Some(map.next_value()?),
                _ => {
                    map.next_value_seed(NodeSeed {
                        sink: &mut NullSink,
                        checked: None,
                    })?;
                }
            }
        }
        Ok(Some(fields))
    }
}

struct MemberSeed;

impl<'de> DeserializeSeed<'de> for MemberSeed {
    type Value = Member<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Member::NotAString)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Member::NotAString)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Member::NotAString)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Member::NotAString)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Member::NotAString)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Member::NotAString)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Member::NotAString)
    }
}

/// A sink that builds serde values: `parse_payload(text, &mut ValueSink)` gives
/// `serde_json::from_slice(text)`'s value (the tests and fuzzers check the
/// shell's jsonb sink against it).
pub struct ValueSink;

impl<'de> JsonSink<'de> for ValueSink {
    type Node = Value;
    fn null(&mut self) -> Value {
        Value::Null
    }
    fn bool(&mut self, v: bool) -> Value {
        Value::Bool(v)
    }
    fn number(&mut self, v: Number) -> Value {
        Value::Number(v)
    }
    fn string(&mut self, v: Cow<'de, str>) -> Value {
        Value::String(v.into_owned())
    }
    fn array(&mut self, items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    fn object(&mut self, members: Vec<(Cow<'de, str>, Value)>) -> Value {
        Value::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_and_errors_as_from_slice() {
        let texts: &[&[u8]] = &[
            br#"{"sub":"a","exp":1700000000,"aud":["x","y"],"n":{"d":[1,2.5,-3,null,true]},"s":"\u00e9\n"}"#,
            br#"{"sub":"a","sub":"b","exp":1,"exp":"x"}"#,
            br#"{}"#,
            br#"{"big":18446744073709551615,"neg":-9223372036854775808,"f":1e300}"#,
            br#"[1,2]"#,
            br#""text""#,
            br#"{"a":1"#,
            br#"{"a":1} x"#,
            br#"{"a":1e400}"#,
            br#"{"a":"\ud800"}"#,
            b"{\"a\":\"\xff\"}",
            b"{\"a\":1,\"b\":\"\xc3\"}",
            b"[1,\"\xe2\x82\"",
            b"",
        ];
        for text in texts {
            let want: Result<Value, String> =
                serde_json::from_slice(text).map_err(|e| e.to_string());
            let got = parse_payload(text, &mut ValueSink);
            match (&want, got) {
                (Ok(Value::Object(obj)), Ok((node, checked))) => {
                    assert_eq!(&node, &Value::Object(obj.clone()));
                    for (k, v) in &checked {
                        assert!(CHECKED_CLAIMS.contains(&k.as_str()));
                        assert_eq!(obj.get(k), Some(v));
                    }
                    for k in CHECKED_CLAIMS {
                        assert_eq!(checked.get(k), obj.get(k), "{k}");
                    }
                }
                (Ok(_), Err(e)) => assert_eq!(e, payload_not_object()),
                (Err(msg), Err(e)) => {
                    assert_eq!(
                        e.message,
                        format!("JWT payload is not valid base64url JSON ({msg})")
                    )
                }
                (want, got) => panic!(
                    "{}: want {want:?}, got {got:?}",
                    String::from_utf8_lossy(text)
                ),
            }
        }
    }

    #[test]
    fn nesting_limit_is_serde_jsons() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let e = parse_payload(deep.as_bytes(), &mut ValueSink).err();
        assert!(e.is_some_and(|e| e.message.contains("recursion limit exceeded")));
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse_payload(ok.as_bytes(), &mut ValueSink).is_ok());
    }
}
