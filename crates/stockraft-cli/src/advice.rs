//! Failures worded for the person at the terminal: what went wrong at which node, and, where
//! the cause is recognisable (most often a TLS mismatch), what to do about it. Never a nest of
//! "unreachable after N attempts" inside another.

use stockraft_client::{Error, Options};

/// A failure as one line: the last node's error and, when recognised, advice.
pub fn explain_failure(error: &Error, options: &Options) -> String {
    let text = match error {
        Error::Unavailable { last, .. } => last.clone(),
        Error::Rejected(status) | Error::OutcomeUnknown(status) => stockraft_client::explain(status),
        Error::Usage(message) => return message.clone(),
    };
    match advice(&text, options) {
        Some(advice) => format!("{text} ({advice})"),
        None => text,
    }
}

/// What to do about a transport failure whose text names a known cause.
pub fn advice(text: &str, options: &Options) -> Option<&'static str> {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let cut = has(&["connection closed", "broken pipe", "connection reset", "Connection reset", "h2 protocol error"]);
    match &options.tls {
        None if has(&["h2 protocol error", "frame with invalid size", "InvalidContentType"]) => {
            Some("the node serves TLS: pass --ca FILE, and --cert and --key if it requires client certificates")
        }
        // A TLS node may also just drop a plain-text connection before its reply is read (the
        // client then sees a broken pipe or a reset), as may a node that stopped.
        None if cut => Some(
            "the node closed the connection: if it serves TLS, pass --ca FILE, and --cert and --key if it requires client certificates",
        ),
        Some(tls) if has(&["CertificateRequired"]) || (tls.identity.is_none() && cut) => {
            Some("the server requires a client certificate: pass --cert and --key")
        }
        Some(_) if has(&["UnknownIssuer", "BadSignature"]) => {
            Some("the node's certificate is not signed by the --ca given: pass the CA that signed the nodes")
        }
        Some(_) if has(&["NotValidForName", "NotValidForNameContext"]) => {
            Some("the node's certificate does not name this address: connect by a name it lists")
        }
        Some(_) if has(&["Expired", "NotValidYet"]) => Some("a certificate is outside its validity period"),
        Some(_) if has(&["UnknownCA", "DecryptError", "BadCertificate"]) => {
            Some("the node refused this client's certificate: it is not signed by the CA the nodes trust")
        }
        Some(_) if has(&["InvalidContentType", "corrupt message", "CorruptMessage", "wrong version number"]) => {
            Some("the node does not serve TLS: drop --ca, --cert and --key")
        }
        // TLS 1.3 may let the call go out before the node's alert arrives: then only the
        // closed connection is seen.
        Some(_) if cut => Some("the node closed the connection: it may not trust this client's certificate"),
        _ if has(&["Connection refused", "connection refused"]) => {
            Some("nothing listens there: is stockd running, and is the address right?")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(tls: bool, identity: bool) -> Options {
        let mut options = Options::new(["127.0.0.1:7001"]);
        if tls {
            options.tls = Some(stockraft_client::Tls {
                ca_pem: Vec::new(),
                identity: identity.then(|| (Vec::new(), Vec::new())),
            });
        }
        options
    }

    #[test]
    fn tls_mistakes_are_answered_with_the_flag_to_pass() {
        let plain = options(false, false);
        let server_side_only = options(true, false);
        let mutual = options(true, true);
        let h2 = "127.0.0.1:7001: Unknown: h2 protocol error: http2 error";
        assert!(advice(h2, &plain).unwrap().contains("pass --ca"));
        let pipe = "127.0.0.1:7001: Unavailable: transport error: stream closed because of a broken pipe";
        assert!(
            advice(pipe, &plain).unwrap().contains("if it serves TLS, pass --ca"),
            "plain text cut off by a TLS node"
        );
        assert_eq!(
            advice(pipe, &server_side_only),
            Some("the server requires a client certificate: pass --cert and --key")
        );
        assert!(advice("invalid peer certificate: UnknownIssuer", &mutual).unwrap().contains("not signed by the --ca"));
        assert!(advice("received corrupt message of type InvalidContentType", &mutual).unwrap().contains("drop --ca"));
        assert!(
            advice("tcp connect error: Connection refused (os error 111)", &plain)
                .unwrap()
                .contains("is stockd running")
        );
        assert_eq!(advice("OUT_OF_STOCK: 1 left", &plain), None);
    }
}
