//! STUB — owned by the resolve helper.
