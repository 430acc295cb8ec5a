//! The messages defined once in `proto/anxin.proto`, compiled by prost.
#![allow(clippy::all)]
include!(concat!(env!("OUT_DIR"), "/anxin.v1.rs"));
