-- activity: analytics kept from every domain event and the beacons (services/activity/README.md).
-- Written only by the consumer (group "activity"), each event once (tandem_sql_idempotent); read
-- by the GET routes. One text for SQLite and PostgreSQL (blog_schema_dialect translates it:
-- INTEGER is BIGINT there, AUTOINCREMENT an identity). The users read model (blog_authors, blog_follows: services/common's
-- BLOG_PROFILES_SQL) is created beside these tables at start.

-- Events seen per UTC day and CloudEvents type (domain events and beacons alike).
CREATE TABLE IF NOT EXISTS activity_daily (
  day TEXT NOT NULL,              -- 'YYYY-MM-DD' (UTC) of the event's own time
  type TEXT NOT NULL,             -- CloudEvents type
  count INTEGER NOT NULL,
  PRIMARY KEY (day, type)
);

-- One row per article id ever heard of. A row made by a comment or favorite event before its
-- article.published (another topic, so another order) is a placeholder: version 0, no slug.
CREATE TABLE IF NOT EXISTS activity_articles (
  id INTEGER PRIMARY KEY,         -- the article's id (the key of its events)
  slug TEXT,                      -- current slug (article.published/updated), NULL: not yet known
  title TEXT,
  author_id INTEGER,
  version INTEGER NOT NULL,       -- of the article (published/updated/deleted); 0: placeholder
  deleted INTEGER NOT NULL DEFAULT 0,
  reads INTEGER NOT NULL DEFAULT 0,               -- activity.article_read + page views of it
  favorites INTEGER NOT NULL DEFAULT 0,           -- favoritesCount of the latest favorite event
  favorites_version INTEGER NOT NULL DEFAULT 0,   -- its version (the article's favorites version)
  comments INTEGER NOT NULL DEFAULT 0             -- live comments (added and not deleted)
);
CREATE INDEX IF NOT EXISTS activity_articles_top ON activity_articles(reads, favorites);

-- Every slug an article has had, so a beacon carrying an old slug (a renamed article) still
-- finds its article; a slug another article takes later moves to it (claimed_at: the updatedAt
-- at which the article took it, the later claim wins whatever the order of arrival).
CREATE TABLE IF NOT EXISTS activity_slugs (
  slug TEXT PRIMARY KEY,
  article_id INTEGER NOT NULL,
  claimed_at INTEGER NOT NULL     -- unix ms
);

-- Reads of slugs no article has (yet): folded into the article that takes the slug. Bounded (the
-- service keeps at most 10,000 slugs here: beacons are anyone's input).
CREATE TABLE IF NOT EXISTS activity_pending_reads (
  slug TEXT PRIMARY KEY,
  reads INTEGER NOT NULL
);

-- Every comment heard of, with its state, so +1 (comment.added) and -1 (comment.deleted) each
-- apply once whatever the order they come in.
CREATE TABLE IF NOT EXISTS activity_comments (
  id INTEGER PRIMARY KEY,         -- the comment's id
  article_id INTEGER NOT NULL,
  version INTEGER NOT NULL,       -- 1 added, 2 deleted
  deleted INTEGER NOT NULL
);

-- What each user did lately (the last 50 per user, by the events' time): published, commented,
-- favorited, followed, read. The article and the other user are resolved when read, so renamed
-- slugs and usernames show as they are now.
CREATE TABLE IF NOT EXISTS activity_recent (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- order of arrival (ties of at): the database numbers it
  user_id INTEGER NOT NULL,
  type TEXT NOT NULL,             -- the CloudEvents type that made it
  at INTEGER NOT NULL,            -- unix ms
  article_id INTEGER,             -- the article, when known
  slug TEXT,                      -- the slug a read named (its article may come later)
  other_user_id INTEGER,          -- the followee
  comment_id INTEGER
);
CREATE INDEX IF NOT EXISTS activity_recent_user ON activity_recent(user_id, at);
