//! How passwords are kept: argon2id at OWASP cost, upgraded at sign-in when the stored hash
//! was made with weaker parameters, and never sent back.

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use convene::db::Database;
use convene::db::schema::users;
use diesel::prelude::*;

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

fn stored_hash(app: &TestApp, email: &str) -> String {
    let database = Database::connect(&app.db.url, 1).unwrap();
    let mut conn = database.connection().unwrap();
    users::table
        .filter(users::email.eq(email))
        .select(users::password_hash)
        .first(&mut **conn)
        .unwrap()
}

db_test!(
    async fn a_weaker_stored_hash_is_upgraded_at_sign_in(app) {
        let (email, _) = app.account("staff").await;
        let hash = stored_hash(&app, &email);
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
        {
            let database = Database::connect(&app.db.url, 1).unwrap();
            let mut conn = database.connection().unwrap();
            diesel::update(users::table.filter(users::email.eq(&email)))
                .set(users::password_hash.eq(&weak))
                .execute(&mut **conn)
                .unwrap();
        }
        app.sign_in(&email, PASSWORD).await;
        let upgraded = stored_hash(&app, &email);
        assert_ne!(upgraded, weak);
        assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{upgraded}");
        app.sign_in(&email, PASSWORD).await;
    }
);
