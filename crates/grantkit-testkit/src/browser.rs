//! A browser stand-in: keeps cookies, follows redirects by hand, stops at the app, and fills in
//! the provider's HTML forms (a login form, a consent page) the way a user would.

use reqwest::header::LOCATION;
use url::Url;

/// Why the browser did not reach the app's redirect URI.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A request failed.
    #[error("browser request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A page answered without redirecting further.
    #[error("the provider showed a page (HTTP {status}) instead of redirecting: {excerpt}")]
    Stuck {
        /// The status of the page.
        status: u16,
        /// The start of the page.
        excerpt: String,
    },
    /// More than 20 redirects.
    #[error("more than 20 redirects without reaching the redirect URI")]
    TooManyRedirects,
    /// A `Location` header that is not a URL.
    #[error("bad Location header: {0}")]
    BadLocation(String),
    /// The page has no form the test asked for.
    #[error("no form {wanted} on the page at {url}: {excerpt}")]
    NoForm {
        /// Which form was looked for.
        wanted: String,
        /// The page's URL.
        url: String,
        /// The start of the page.
        excerpt: String,
    },
}

/// Where a navigation ended.
#[derive(Clone, Debug)]
pub enum Landing {
    /// A redirect to the app's redirect URI: the callback URL, not requested.
    Callback(String),
    /// A page that did not redirect (a login form, a consent page, an error page).
    Page(Page),
}

/// A page the browser stopped at.
#[derive(Clone, Debug)]
pub struct Page {
    /// Its URL after redirects.
    pub url: Url,
    /// Its HTTP status.
    pub status: u16,
    /// Its body as text.
    pub body: String,
}

/// An HTML form of a [`Page`], with the values of its inputs as the page set them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// The `id` attribute, if any.
    pub id: Option<String>,
    /// The `action`, resolved against the page's URL (the page itself when absent).
    pub action: Url,
    /// `GET` or `POST` (upper case).
    pub method: String,
    /// Named `<input>`s other than buttons, in page order, with their `value` (or empty).
    pub fields: Vec<(String, String)>,
}

impl Page {
    /// Every form of the page.
    pub fn forms(&self) -> Vec<Form> {
        html::forms(&self.body)
            .into_iter()
            .filter_map(|raw| raw.resolve(&self.url))
            .collect()
    }

    /// The form with this `id`, or the one holding an input named `id` (for pages whose forms
    /// carry no id).
    pub fn form(&self, id: &str) -> Result<Form, BrowserError> {
        let forms = self.forms();
        forms
            .iter()
            .find(|f| f.id.as_deref() == Some(id))
            .or_else(|| forms.iter().find(|f| f.fields.iter().any(|(n, _)| n == id)))
            .cloned()
            .ok_or_else(|| BrowserError::NoForm {
                wanted: id.to_owned(),
                url: self.url.to_string(),
                excerpt: self.excerpt(),
            })
    }

    /// The start of the page's text, for error messages.
    pub fn excerpt(&self) -> String {
        self.body.chars().take(300).collect()
    }
}

/// A cookie-holding HTTP client that plays the user's browser in tests.
#[derive(Clone, Debug)]
pub struct Browser {
    client: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        Self { client }
    }

    /// A browser with an empty cookie jar that also trusts `root` (a test CA, for a peer
    /// serving HTTPS: [`OidcPeer::start_tls_or_skip`](crate::OidcPeer::start_tls_or_skip)).
    pub fn trusting(root: reqwest::Certificate) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge([root])
            .build()
            .expect("reqwest client");
        Self { client }
    }

    /// Opens `authorize_url` and follows redirects until one goes to a URL starting with
    /// `redirect_prefix`; returns that URL (the callback the app would receive) without
    /// requesting it. A provider that shows a page instead (a login form) is
    /// [`BrowserError::Stuck`]; [`Browser::navigate`] returns that page.
    pub async fn authorize(
        &self,
        authorize_url: &str,
        redirect_prefix: &str,
    ) -> Result<String, BrowserError> {
        match self.navigate(authorize_url, redirect_prefix).await? {
            Landing::Callback(url) => Ok(url),
            Landing::Page(page) => Err(BrowserError::Stuck {
                status: page.status,
                excerpt: page.excerpt(),
            }),
        }
    }

    /// Opens `url` and follows redirects until the app's `redirect_prefix` (not requested) or
    /// a page that does not redirect.
    pub async fn navigate(
        &self,
        url: &str,
        redirect_prefix: &str,
    ) -> Result<Landing, BrowserError> {
        let url = Url::parse(url).map_err(|e| BrowserError::BadLocation(e.to_string()))?;
        if url.as_str().starts_with(redirect_prefix) {
            return Ok(Landing::Callback(url.to_string()));
        }
        let response = self.client.get(url.clone()).send().await?;
        self.follow(url, response, redirect_prefix).await
    }

    /// Submits `form` as a user would, with `fields` set over (or added to) the page's own
    /// values (a clicked button is such a field), then follows redirects like
    /// [`Browser::navigate`].
    pub async fn submit(
        &self,
        form: &Form,
        fields: &[(&str, &str)],
        redirect_prefix: &str,
    ) -> Result<Landing, BrowserError> {
        let mut values = form.fields.clone();
        for (name, value) in fields {
            match values.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = (*value).to_owned(),
                None => values.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        let response = if form.method == "GET" {
            let mut url = form.action.clone();
            url.query_pairs_mut().clear().extend_pairs(&values);
            self.client.get(url).send().await?
        } else {
            self.client
                .post(form.action.clone())
                .form(&values)
                .send()
                .await?
        };
        self.follow(form.action.clone(), response, redirect_prefix)
            .await
    }

    async fn follow(
        &self,
        mut current: Url,
        mut response: reqwest::Response,
        redirect_prefix: &str,
    ) -> Result<Landing, BrowserError> {
        for _ in 0..20 {
            let status = response.status();
            let Some(location) = response.headers().get(LOCATION) else {
                let body = response.text().await.unwrap_or_default();
                return Ok(Landing::Page(Page {
                    url: current,
                    status: status.as_u16(),
                    body,
                }));
            };
            let location = location
                .to_str()
                .map_err(|e| BrowserError::BadLocation(e.to_string()))?;
            current = current
                .join(location)
                .map_err(|e| BrowserError::BadLocation(e.to_string()))?;
            if current.as_str().starts_with(redirect_prefix) {
                return Ok(Landing::Callback(current.to_string()));
            }
            response = self.client.get(current.clone()).send().await?;
        }
        Err(BrowserError::TooManyRedirects)
    }
}

/// Just enough HTML to read a provider's forms: tags and quoted attributes, entities decoded.
mod html {
    use url::Url;

    use super::Form;

    pub(super) struct RawForm {
        attrs: Vec<(String, String)>,
        fields: Vec<(String, String)>,
    }

    impl RawForm {
        pub(super) fn resolve(self, page: &Url) -> Option<Form> {
            let action = match attr(&self.attrs, "action") {
                Some(a) if !a.is_empty() => page.join(a).ok()?,
                _ => page.clone(),
            };
            let method = attr(&self.attrs, "method")
                .unwrap_or("get")
                .to_ascii_uppercase();
            Some(Form {
                id: attr(&self.attrs, "id").map(str::to_owned),
                action,
                method,
                fields: self.fields,
            })
        }
    }

    fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The forms of `body`, each with its named non-button inputs.
    pub(super) fn forms(body: &str) -> Vec<RawForm> {
        let mut forms: Vec<RawForm> = Vec::new();
        let mut open = false;
        for (name, attrs) in tags(body) {
            match name.as_str() {
                "form" => {
                    forms.push(RawForm {
                        attrs,
                        fields: Vec::new(),
                    });
                    open = true;
                }
                "/form" => open = false,
                "input" if open => {
                    let kind = attr(&attrs, "type").unwrap_or("text").to_ascii_lowercase();
                    let buttons = ["submit", "button", "image", "reset"];
                    let unchecked = matches!(kind.as_str(), "checkbox" | "radio")
                        && attr(&attrs, "checked").is_none();
                    if let (Some(name), false, false) = (
                        attr(&attrs, "name"),
                        buttons.contains(&kind.as_str()),
                        unchecked,
                    ) {
                        let value = attr(&attrs, "value").unwrap_or("").to_owned();
                        if let Some(form) = forms.last_mut() {
                            form.fields.push((name.to_owned(), value));
                        }
                    }
                }
                _ => {}
            }
        }
        forms
    }

    /// Every tag's lower-cased name (`/form` for a closing tag) and attributes.
    fn tags(body: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out = Vec::new();
        let mut rest = body;
        while let Some(start) = rest.find('<') {
            rest = &rest[start + 1..];
            let end = tag_end(rest);
            let inner = &rest[..end];
            rest = &rest[end..];
            let name_len = inner
                .find(|c: char| {
                    c.is_whitespace() || c == '>' || c == '/' && !inner.starts_with('/')
                })
                .unwrap_or(inner.len());
            let name = inner[..name_len].to_ascii_lowercase();
            if name.is_empty() || name.starts_with('!') {
                continue;
            }
            out.push((name, attributes(&inner[name_len..])));
        }
        out
    }

    /// Where the tag that `rest` starts ends (at its `>`, skipping quoted values).
    fn tag_end(rest: &str) -> usize {
        let mut quote = None;
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => return i,
                _ => {}
            }
        }
        rest.len()
    }

    fn attributes(mut text: &str) -> Vec<(String, String)> {
        let mut attrs = Vec::new();
        loop {
            text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            let name_len = text
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
                .unwrap_or(text.len());
            if name_len == 0 {
                return attrs;
            }
            let name = text[..name_len].to_ascii_lowercase();
            text = text[name_len..].trim_start();
            let value = match text.strip_prefix('=') {
                Some(after) => {
                    let (value, rest) = value(after.trim_start());
                    text = rest;
                    decode(value)
                }
                None => String::new(),
            };
            attrs.push((name, value));
        }
    }

    fn value(text: &str) -> (&str, &str) {
        match text.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &text[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], body.get(end + 1..).unwrap_or(""))
            }
            _ => {
                let end = text
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(text.len());
                (&text[..end], &text[end..])
            }
        }
    }

    /// Decodes the character references an attribute value may hold.
    pub(super) fn decode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            rest = &rest[amp..];
            let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
                out.push('&');
                rest = &rest[1..];
                continue;
            };
            match reference(&rest[1..semi]) {
                Some(c) => {
                    out.push(c);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn reference(name: &str) -> Option<char> {
        let number = |digits: &str, radix| u32::from_str_radix(digits, radix).ok();
        match name {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => {
                let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => number(hex, 16),
                    None => number(name.strip_prefix('#')?, 10),
                };
                code.and_then(char::from_u32)
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_login_form_with_entities_hidden_inputs_and_buttons() {
            let body = r#"<html><form id="kc-form-login" onsubmit="x()" action="http://op/auth?a=1&amp;b=&#x2F;2" method="post">
                <input tabindex="2" id="username" name="username" value="" type="text" autofocus>
                <input type='password' name=password>
                <input type="hidden" id="id-hidden-input" name="credentialId"/>
                <input type="checkbox" name="rememberMe">
                <input name="login" type="submit" value="Sign In"/>
            </form><form action="/other"><input name="q" value="a &quot;b&quot;"></form></html>"#;
            let page = Url::parse("http://op/page").unwrap();
            let forms: Vec<Form> = forms(body)
                .into_iter()
                .filter_map(|f| f.resolve(&page))
                .collect();
            assert_eq!(forms.len(), 2);
            assert_eq!(forms[0].id.as_deref(), Some("kc-form-login"));
            assert_eq!(forms[0].action.as_str(), "http://op/auth?a=1&b=/2");
            assert_eq!(forms[0].method, "POST");
            let names: Vec<&str> = forms[0].fields.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["username", "password", "credentialId"]);
            assert_eq!(forms[1].action.as_str(), "http://op/other");
            assert_eq!(forms[1].method, "GET");
            assert_eq!(forms[1].fields, [("q".to_owned(), "a \"b\"".to_owned())]);
        }

        #[test]
        fn unknown_or_broken_references_stay_as_written() {
            assert_eq!(decode("a&b;c&#xZZ;&amp"), "a&b;c&#xZZ;&amp");
        }
    }
}
