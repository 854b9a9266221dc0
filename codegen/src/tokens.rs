//! Moving token streams into `quote!` instead of copying them.
//!
//! `quote!` interpolates a `TokenStream` through `ToTokens::to_tokens(&self)`, which clones
//! every top-level token of it (an allocation per identifier and literal), and the
//! original is freed later. Generated code nests streams four or five levels deep, so the
//! copies were most of the generator's time. [`moved`] hands a stream to `quote!` once, by
//! value.

use std::cell::Cell;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// A stream that `quote!` takes by value the first time it is interpolated (later
/// interpolations are empty: use it once).
pub struct Moved(Cell<Option<TokenStream>>);

pub fn moved(tokens: TokenStream) -> Moved {
    Moved(Cell::new(Some(tokens)))
}

impl ToTokens for Moved {
    fn to_tokens(&self, dst: &mut TokenStream) {
        if let Some(tokens) = self.0.take() {
            dst.extend(tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn a_moved_stream_is_interpolated_once() {
        let inner = moved(quote!(a + b));
        let outer = quote!(f(#inner) #inner);
        assert_eq!(outer.to_string(), "f (a + b)");
    }
}
