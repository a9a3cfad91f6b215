//! Migrations: one folder per engine, embedded in the binary.
//!
//! The files follow sqlx-cli's `<version>_<description>.sql` naming, so `sqlx migrate` can read
//! the same folders. They are embedded with `include_str!` (the `sqlx::migrate!` macro needs
//! sqlx's `macros` feature, which would compile sqlx a second time for the host); a unit test
//! checks that every file in the folders is listed here.

use std::borrow::Cow;

use sqlx::AnyPool;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::{Engine, StoreError};

/// `(version, description, sql)` of each SQLite migration, in order.
const SQLITE: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../migrations/sqlite/0001_init.sql"),
)];

/// `(version, description, sql)` of each PostgreSQL migration, in order.
const POSTGRES: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../migrations/postgres/0001_init.sql"),
)];

fn migrator(engine: Engine) -> Migrator {
    let list = match engine {
        Engine::Sqlite => SQLITE,
        Engine::Postgres => POSTGRES,
    };
    let migrations = list
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Applies the pending migrations of `engine` (PostgreSQL: under an advisory lock, so several
/// processes starting at once apply each migration once).
pub(crate) async fn migrate(pool: &AnyPool, engine: Engine) -> Result<(), StoreError> {
    migrator(engine).run(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &str) -> Vec<String> {
        let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
    }

    fn listed(list: &[(i64, &str, &str)]) -> Vec<String> {
        list.iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect()
    }

    #[test]
    fn every_migration_file_is_embedded() {
        assert_eq!(files_in("sqlite"), listed(SQLITE));
        assert_eq!(files_in("postgres"), listed(POSTGRES));
    }

    #[test]
    fn both_engines_have_the_same_migrations() {
        fn versions(l: &'static [(i64, &'static str, &'static str)]) -> Vec<(i64, &'static str)> {
            l.iter().map(|m| (m.0, m.1)).collect()
        }
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
