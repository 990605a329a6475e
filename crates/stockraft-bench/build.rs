//! Compiles `proto/peers/etcd_kv.proto` (the part of etcd's KV API `stockbench peers` uses) with
//! protox, so no system `protoc` is needed, into a tonic client.

const PROTO_ROOT: &str = "../../proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}/peers");
    let descriptors = protox::compile(["peers/etcd_kv.proto"], [PROTO_ROOT])?;
    tonic_prost_build::configure().build_server(false).compile_fds(descriptors)?;
    Ok(())
}
