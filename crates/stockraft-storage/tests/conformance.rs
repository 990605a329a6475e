//! openraft's own storage conformance suite, run against our RocksDB log store and state
//! machine: votes, appends, reads, truncation, purging, membership, applied state, snapshots.

use openraft::StorageError;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use stockraft_storage::{LogStore, StateMachineStore, TypeConfig};
use tempfile::TempDir;

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let dir = TempDir::new().map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        let (log, machine) =
            stockraft_storage::open(dir.path()).map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        Ok((dir, log, machine))
    }
}

#[test]
fn rocksdb_storage_passes_the_openraft_suite() {
    TypeConfig::run(async { Suite::test_all(RocksBuilder).await.unwrap() });
}
