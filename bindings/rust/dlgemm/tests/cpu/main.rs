//! Every op and utility of the C ABI through the safe crate on CPU tensors, against naive
//! Rust-side math (the decoding of FP8 / BF16 / UE8M0 included, written here independently of
//! the crate). Test names mirror the Python binding's tests.

#![allow(clippy::needless_range_loop)]

mod attention;
mod basics;
mod common;
mod gemm;
mod moe;
mod quant;
