//! The name a device writes its messages under is its token's (PROTOCOL.md §8.6, rule
//! `forged-author`): the relay refuses a message whose `author.name` is anything else, and a
//! refused message would be refused again on every connection. So both SDKs take the name
//! from the token the app hands them, not from the app's identity.

use edgedesk_core::auth::claims::Claims;

/// The token's display name (its `name` claim, or the documented default), read without
/// checking the signature (the relay checks it); `given` if the token cannot be read.
pub fn author_name(token: &str, given: String) -> String {
    Claims::unverified(token).map(|c| c.display_name()).unwrap_or(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        use edgedesk_core::auth::{jwt, keys::Key};
        let claims: serde_json::Value = serde_json::from_str(payload).unwrap();
        jwt::sign(&Key::new("k1", vec![7u8; 32]).unwrap(), &claims).unwrap()
    }

    #[test]
    fn the_name_comes_from_the_token_whatever_the_app_says() {
        let named = token(r#"{"workspace":"w","sub":"a1","role":"agent","exp":1,"name":"李娜"}"#);
        assert_eq!(author_name(&named, "官方客服 Official Support".into()), "李娜");
        let anonymous = token(
            r#"{"workspace":"w","sub":"v-3f9a0c","role":"visitor","conversation":"c","exp":1}"#,
        );
        assert_eq!(author_name(&anonymous, "someone".into()), "Visitor 3f9a");
        assert_eq!(author_name("not a token", "given".into()), "given");
    }
}
