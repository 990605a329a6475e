//! Compiles `proto/stockraft/v1/*.proto` (and the internal `stockraft/raft/v1/raft.proto`) with protox (a protobuf compiler in Rust, so no system
//! `protoc` is needed) and generates the prost messages and tonic clients and servers. The
//! encoded descriptor set is kept for gRPC server reflection.

use prost::Message;
use std::path::PathBuf;

const PROTO_ROOT: &str = "../../proto";
const PROTOS: [&str; 4] = [
    "stockraft/v1/types.proto",
    "stockraft/v1/inventory.proto",
    "stockraft/v1/catalog.proto",
    "stockraft/v1/cluster.proto",
];
const RAFT_PROTO: &str = "stockraft/raft/v1/raft.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let descriptors = protox::compile(PROTOS, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("stockraft_descriptor.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    // The node-to-node transport: generated alike, but kept out of the public descriptor set.
    tonic_prost_build::configure().compile_fds(protox::compile([RAFT_PROTO], [PROTO_ROOT])?)?;
    Ok(())
}
