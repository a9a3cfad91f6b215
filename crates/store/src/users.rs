//! Users of the admin API (the store keeps argon2id hashes computed by the caller).

use sqlx::Row;

use crate::{NewUser, Store, StoreError, StoreTx, User};

/// Emails are unique whatever their case: they are stored and looked up lower-cased.
fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate(user: &NewUser) -> Result<(), StoreError> {
    match (user.role.as_str(), user.customer_id) {
        ("operator", None) | ("customer", Some(_)) => {}
        ("operator", Some(_)) => {
            return Err(StoreError::Invalid {
                field: "customer_id",
                message: "operators belong to no customer",
            });
        }
        ("customer", None) => {
            return Err(StoreError::Invalid {
                field: "customer_id",
                message: "customer users need a customer_id",
            });
        }
        _ => {
            return Err(StoreError::Invalid {
                field: "role",
                message: "must be operator or customer",
            });
        }
    }
    if normalize_email(&user.email).is_empty() {
        return Err(StoreError::Invalid {
            field: "email",
            message: "must not be empty",
        });
    }
    if user.password_hash.is_empty() {
        return Err(StoreError::Invalid {
            field: "password",
            message: "a password hash is required",
        });
    }
    Ok(())
}

// === impl StoreTx ===

impl StoreTx {
    /// Creates a user; the email is stored lower-cased.
    ///
    /// # Errors
    /// `Invalid { field: "role" | "customer_id" | "email" | "password" }`,
    /// `Conflict { field: "email" }`, `MissingReference { field: "customer_id" }`, `Database`.
    pub async fn create_user(&mut self, user: &NewUser) -> Result<User, StoreError> {
        validate(user)?;
        let email = normalize_email(&user.email);
        if let Some(customer_id) = user.customer_id {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_one(self.conn())
                .await?;
            if row.try_get::<i64, _>("n")? == 0 {
                return Err(StoreError::MissingReference {
                    field: "customer_id",
                });
            }
        }
        let row = sqlx::query(
            "INSERT INTO users (email, password_hash, role, customer_id) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(email.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.role.as_str())
        .bind(user.customer_id)
        .fetch_one(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "email", "customer_id"))?;
        Ok(User {
            id: row.try_get("id")?,
            email,
            password_hash: user.password_hash.clone(),
            role: user.role.clone(),
            customer_id: user.customer_id,
        })
    }

    /// Deletes a user.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn delete_user(&mut self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

// === impl Store ===

impl Store {
    /// Creates a user.
    ///
    /// # Errors
    /// See [`StoreTx::create_user`].
    pub async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        let mut tx = self.begin().await?;
        let created = tx.create_user(user).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// One user.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn user(&self, id: i64) -> Result<User, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, role, customer_id FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(User::from_row(&row)?)
    }

    /// The user with this email, in any case (for login).
    ///
    /// # Errors
    /// `Database`.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, role, customer_id FROM users WHERE email = $1",
        )
        .bind(normalize_email(email))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(User::from_row).transpose()?)
    }

    /// All users, by id.
    ///
    /// # Errors
    /// `Database`.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, email, password_hash, role, customer_id FROM users ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(User::from_row).collect::<Result<_, _>>()?)
    }

    /// Deletes a user.
    ///
    /// # Errors
    /// See [`StoreTx::delete_user`].
    pub async fn delete_user(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.delete_user(id).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: &str, customer_id: Option<i64>) -> NewUser {
        NewUser {
            email: "A@Example.com".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role: role.into(),
            customer_id,
        }
    }

    #[test]
    fn roles_and_customer_ids_must_agree() {
        assert!(validate(&user("operator", None)).is_ok());
        assert!(validate(&user("customer", Some(1))).is_ok());
        assert!(matches!(
            validate(&user("operator", Some(1))),
            Err(StoreError::Invalid {
                field: "customer_id",
                ..
            })
        ));
        assert!(matches!(
            validate(&user("customer", None)),
            Err(StoreError::Invalid {
                field: "customer_id",
                ..
            })
        ));
        assert!(matches!(
            validate(&user("admin", None)),
            Err(StoreError::Invalid { field: "role", .. })
        ));
    }

    #[test]
    fn emails_are_lower_cased() {
        assert_eq!(normalize_email(" Bob@Example.COM "), "bob@example.com");
    }
}
