//! The one error type of the x402 core.

use std::fmt;

/// What kind of failure an [`X402Error`] is; each kind maps to one SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is not well-formed: bad base64, not JSON, not a JSON object,
    /// missing or mistyped field, bad hex, bad address or checksum, bad
    /// decimal amount, wrong byte length. SQLSTATE `22023`
    /// (invalid_parameter_value).
    Malformed,
    /// A well-formed number does not fit: a uint256 above 2^256-1, a chain
    /// id or timeout above 2^64-1. SQLSTATE `22003` (numeric_value_out_of_range).
    OutOfRange,
    /// Well-formed but not supported: a non-EVM or unknown network, an x402
    /// version other than 1 or 2, a scheme other than `exact`.
    /// SQLSTATE `0A000` (feature_not_supported).
    Unsupported,
    /// The signature is well-formed (65 bytes of hex) but unusable: v not in
    /// {0, 1, 27, 28}, r or s out of range, high s (malleable), or no public
    /// key recovers. SQLSTATE `22023` (invalid_parameter_value).
    InvalidSignature,
}

impl ErrorKind {
    /// The SQLSTATE the SQL layer should raise for this kind.
    pub const fn sqlstate(self) -> &'static str {
        match self {
            ErrorKind::Malformed | ErrorKind::InvalidSignature => "22023",
            ErrorKind::OutOfRange => "22003",
            ErrorKind::Unsupported => "0A000",
        }
    }
}

/// An x402 error: a [`ErrorKind`] and a message naming exactly what failed
/// (which field, what value, what was expected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X402Error {
    /// Category of the failure (maps to a SQLSTATE).
    pub kind: ErrorKind,
    /// Human-readable message, e.g. `address 0x12 has 1 byte, expected 20`.
    pub message: String,
}

/// `Result` with [`X402Error`].
pub type Result<T> = std::result::Result<T, X402Error>;

impl X402Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        X402Error {
            kind,
            message: message.into(),
        }
    }

    /// A [`ErrorKind::Malformed`] error.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, message)
    }

    /// An [`ErrorKind::OutOfRange`] error.
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OutOfRange, message)
    }

    /// An [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// An [`ErrorKind::InvalidSignature`] error.
    pub fn invalid_signature(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidSignature, message)
    }

    /// The SQLSTATE for this error's kind.
    pub const fn sqlstate(&self) -> &'static str {
        self.kind.sqlstate()
    }

    /// Prefixes the message with `context: ` (typically a JSON path such as
    /// `paymentPayload.payload.authorization.value`).
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for X402Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for X402Error {}
