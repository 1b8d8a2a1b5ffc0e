//! The generated client's surface, as a reviewer reads it: each operation's method with
//! its parameters, their types and the spec's ranges, and its response type; each type
//! with its fields. `cargo xtask gen` records it as the insta snapshot
//! `xtask/tests/snapshots/drift__surface.snap`, so a spec change shows up as a few
//! readable lines (the generated file itself is checked byte for byte, not snapshotted).

use std::fmt::Write as _;

use anyhow::{Result, anyhow};

/// The surface of generated code `code` (the contents of `generated.rs`).
pub fn surface(code: &str) -> Result<String> {
    let file: syn::File =
        syn::parse_file(code).map_err(|e| anyhow!("the generated code does not parse: {e}"))?;
    let mut out = String::from("# Operations (`Client` methods)\n");
    for item in &file.items {
        match item {
            syn::Item::Impl(block) if is_client(&block.self_ty) && block.trait_.is_none() => {
                for method in block.items.iter().filter_map(|i| match i {
                    syn::ImplItem::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => Some(f),
                    _ => None,
                }) {
                    operation(&mut out, method);
                }
            }
            _ => {}
        }
    }
    out.push_str("\n# Types (`types::`)\n");
    for item in &file.items {
        if let syn::Item::Mod(module) = item
            && module.ident == "types"
            && let Some((_, items)) = &module.content
        {
            for item in items {
                ty(&mut out, item);
            }
        }
    }
    Ok(out)
}

fn is_client(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.is_ident("Client"))
}

/// `name(param: Type [min..=max], …) -> Response` and the request line.
fn operation(out: &mut String, method: &syn::ImplItemFn) {
    let docs = docs(&method.attrs);
    if method.sig.asyncness.is_none() {
        return;
    }
    let params: Vec<String> = method
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(arg) => {
                let name = tokens(&arg.pat);
                let range = range_of(&docs, &name)
                    .map(|r| format!(" [{r}]"))
                    .unwrap_or_default();
                Some(format!("{name}: {}{range}", tokens(&arg.ty)))
            }
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let output = match &method.sig.output {
        syn::ReturnType::Type(_, ty) => response(&tokens(ty)),
        syn::ReturnType::Default => "()".to_owned(),
    };
    let _ = writeln!(
        out,
        "{}({}) -> {output}",
        method.sig.ident,
        params.join(", ")
    );
    if let Some(line) = docs.lines().find(|l| l.starts_with("Sends a `")) {
        let _ = writeln!(
            out,
            "    {}",
            line.trim_start_matches("Sends a ").replace('`', "")
        );
    }
}

/// `Result<ResponseValue<types::X>, Error<()>>` → `types::X`.
fn response(output: &str) -> String {
    output
        .strip_prefix("Result<ResponseValue<")
        .and_then(|rest| rest.split_once(">,"))
        .map_or_else(|| output.to_owned(), |(ty, _)| ty.to_owned())
}

/// The range the doc comment gives for parameter `name` ("Allowed by the spec: `a..=b`").
fn range_of(docs: &str, name: &str) -> Option<String> {
    let start = docs.find(&format!("- `{name}`:"))?;
    let rest = &docs[start + 1..];
    let end = rest.find("\n- `").unwrap_or(rest.len());
    let section = &rest[..end];
    let (_, after) = section.split_once("Allowed by the spec: `")?;
    after.split_once('`').map(|(range, _)| range.to_owned())
}

/// A struct with its fields, an enum with its variants, a newtype with what it wraps.
fn ty(out: &mut String, item: &syn::Item) {
    match item {
        syn::Item::Struct(s) => match &s.fields {
            syn::Fields::Named(fields) => {
                let _ = writeln!(out, "struct {}", s.ident);
                for field in &fields.named {
                    let name = field
                        .ident
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let _ = writeln!(out, "    {name}: {}", tokens(&field.ty));
                }
            }
            syn::Fields::Unnamed(fields) => {
                let inner: Vec<String> = fields.unnamed.iter().map(|f| tokens(&f.ty)).collect();
                let _ = writeln!(out, "struct {}({})", s.ident, inner.join(", "));
            }
            syn::Fields::Unit => {
                let _ = writeln!(out, "struct {}", s.ident);
            }
        },
        syn::Item::Enum(e) => {
            let variants: Vec<String> = e.variants.iter().map(|v| v.ident.to_string()).collect();
            let _ = writeln!(out, "enum {} {{ {} }}", e.ident, variants.join(", "));
        }
        _ => {}
    }
}

fn docs(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tokens as a reviewer writes them: `::std::num::NonZeroU64` → `NonZeroU64`,
/// `:: std :: option :: Option < bool >` → `Option<bool>`.
fn tokens(node: &impl quote::ToTokens) -> String {
    let text = node.to_token_stream().to_string();
    let mut text = text
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& 'a ", "&'a ")
        .replace("& ", "&");
    for prefix in [
        "::std::num::",
        "::std::option::",
        "::std::string::",
        "::std::vec::",
        "::serde_json::",
    ] {
        text = text.replace(prefix, "");
    }
    text.replace(",>", ">")
        .replace(',', ", ")
        .replace("  ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_shows_its_ranges_and_response() {
        let code = r#"
pub struct Client;
impl Client {
    /**Apply.

Sends a `POST` request to `/rest/{time}`

Arguments:
- `time`: Seconds.
Allowed by the spec: `1..=86399` (not checked by this generated code).
- `prolong`: Again.
*/
    pub async fn rest<'a>(&'a self, time: ::std::num::NonZeroU64, prolong: Option<bool>) -> Result<ResponseValue<types::RestResponse>, Error<()>> { self.send(time, prolong).await }
}
pub mod types {
    pub struct RestResponse { pub retcode: ::std::string::String }
}
"#;
        let shown = surface(code).expect("parses");
        assert!(
            shown.contains(
                "rest(time: NonZeroU64 [1..=86399], prolong: Option<bool>) -> types::RestResponse"
            ),
            "{shown}"
        );
        assert!(shown.contains("POST request to /rest/{time}"), "{shown}");
        assert!(
            shown.contains("struct RestResponse\n    retcode: String"),
            "{shown}"
        );
    }
}
