-- users: accounts, password hashes and follows. Owned by the users service alone; other services
-- learn the public part (username, bio, image) and the follows from the users topic. One text
-- for SQLite and PostgreSQL (services/common's blog_schema_dialect translates it).

-- AUTOINCREMENT: the database numbers the id (RETURNING gives it back); on PostgreSQL an identity
-- column (SQLite's bare rowid alias would number nothing there). An id is never given twice.
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  email TEXT NOT NULL,          -- lower-cased
  password_hash TEXT NOT NULL,  -- argon2id, libsodium's crypto_pwhash_str format
  bio TEXT NOT NULL DEFAULT '',
  image TEXT NOT NULL DEFAULT '',
  version INTEGER NOT NULL,     -- of the public profile: +1 per change, carried by the events
  created_at INTEGER NOT NULL,  -- unix ms
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username ON users(username);
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users(email);

CREATE TABLE IF NOT EXISTS follows (
  follower_id INTEGER NOT NULL REFERENCES users(id),
  followee_id INTEGER NOT NULL REFERENCES users(id),
  following INTEGER NOT NULL,   -- 1 following, 0 no longer (the row keeps the edge's version)
  version INTEGER NOT NULL,     -- +1 per follow or unfollow, carried by the events
  PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX IF NOT EXISTS follows_followee ON follows(followee_id);
