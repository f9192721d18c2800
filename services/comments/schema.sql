-- comments: the comments of the blog's articles, owned by the comments service, and its read model
-- of the articles (from the articles topic). The users read model (blog_authors, blog_follows) is
-- services/common's BLOG_PROFILES_SQL, run with this file.

-- The articles comments may be written on, as the articles topic (or, for a slug not heard of
-- yet, one internal call to articles) told. A row only moves forward by version; a deleted
-- article stays as a tombstone (deleted = 1), so that older news of it can never bring it back.
-- slug is not unique here: the events of two articles travel in different partitions, so one may
-- take a slug before the other's rename has arrived; the live row with the highest version wins.
CREATE TABLE IF NOT EXISTS articles (
  id INTEGER PRIMARY KEY,        -- the articles service's id
  slug TEXT NOT NULL,
  author_id INTEGER NOT NULL,
  version INTEGER NOT NULL,      -- the article's version (1 at publication, +1 per change)
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS articles_slug ON articles(slug);

-- AUTOINCREMENT: an id is never given twice, even after the newest comment was deleted (the
-- events carry it, and a consumer that saw comment.deleted (version 2) of an id would ignore a
-- new comment.added (version 1) of the same id). PostgreSQL: an identity column (the translation
-- of blog_schema_dialect); the inserts take the id back with RETURNING.
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  article_id INTEGER NOT NULL REFERENCES articles(id),
  author_id INTEGER NOT NULL,    -- a user id (blog_authors.user_id)
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,   -- unix ms
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_article ON comments(article_id, id);
