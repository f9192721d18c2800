-- articles: the blog's articles, their tags and favorites. Owned by the articles service alone;
-- other services learn them from the articles topic. The users read model (blog_authors,
-- blog_follows: services/common's BLOG_PROFILES_SQL) lives in the same database, created before
-- this file runs.
CREATE TABLE IF NOT EXISTS articles (
  -- AUTOINCREMENT: an id is never given again after its article was deleted. Events are keyed
  -- by it and read models keep versions per id: a reused id would start again at version 1
  -- under a key whose last version was higher, and be ignored.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  slug TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  body TEXT NOT NULL,
  tag_list TEXT NOT NULL DEFAULT '[]', -- the sorted tags as the answers' JSON array text
                                       -- (written with article_tags, in the same job)
  author_id INTEGER NOT NULL,          -- a user id (blog_authors.user_id)
  created_at INTEGER NOT NULL,         -- unix ms
  updated_at INTEGER NOT NULL,
  favorites_count INTEGER NOT NULL DEFAULT 0,
  favorites_version INTEGER NOT NULL DEFAULT 0, -- +1 per favorite or unfavorite (their events)
  version INTEGER NOT NULL             -- 1 at publication, +1 per change (article.* events)
);
CREATE INDEX IF NOT EXISTS articles_author ON articles(author_id, id);

-- Every slug an article ever had, kept after its article was deleted or renamed: a slug names one
-- article forever (as an id does), and a new article whose title gives a slug used before gets a
-- suffix (write.c). The other services map slugs to ids from events that arrive late: comments,
-- seeing a new article take the slug of a deleted one before the deletion's event, would put a
-- comment on the deleted article (its deletion then deleting the comment). The triggers claim
-- the slug in the same statement that writes it; an article taking back a slug of its own is no
-- conflict. A slug taken is refused in the engine's own way, which write.c answers with a suffix:
-- on SQLite the claim's UNIQUE refusal fails the INSERT or UPDATE (the statement alone); on
-- PostgreSQL the claim is made BEFORE the row is written, and a slug taken skips the row (the
-- statement's RETURNING gives nothing), since a failed statement there would fail the whole
-- writer job (its SAVEPOINT). The claim waits for another transaction claiming the same slug
-- (several instances write at once on PostgreSQL) and gives way when that one commits.
CREATE TABLE IF NOT EXISTS article_slugs (
  slug TEXT NOT NULL UNIQUE,
  article_id INTEGER NOT NULL
);
-- once, when the table is new (the triggers keep it whole from then on): not a scan per start
INSERT INTO article_slugs(slug, article_id) SELECT slug, id FROM articles
  WHERE NOT EXISTS (SELECT 1 FROM article_slugs) ON CONFLICT DO NOTHING;
-- dialect: sqlite
CREATE TRIGGER IF NOT EXISTS article_slug_new AFTER INSERT ON articles
BEGIN
  INSERT INTO article_slugs(slug, article_id) VALUES (NEW.slug, NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS article_slug_renamed AFTER UPDATE OF slug ON articles
  WHEN NEW.slug <> OLD.slug
BEGIN
  INSERT INTO article_slugs(slug, article_id) SELECT NEW.slug, NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM article_slugs WHERE slug = NEW.slug AND article_id = NEW.id);
END;
-- dialect: postgres
CREATE OR REPLACE FUNCTION article_slug_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO article_slugs(slug, article_id) VALUES (NEW.slug, NEW.id)
    ON CONFLICT (slug) DO NOTHING;
  IF NOT FOUND AND NOT EXISTS
      (SELECT 1 FROM article_slugs s WHERE s.slug = NEW.slug AND s.article_id = NEW.id) THEN
    RETURN NULL; -- another article's slug: the row is skipped
  END IF;
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER article_slug_new BEFORE INSERT ON articles
  FOR EACH ROW EXECUTE FUNCTION article_slug_claim();
CREATE OR REPLACE TRIGGER article_slug_renamed BEFORE UPDATE OF slug ON articles
  FOR EACH ROW WHEN (NEW.slug <> OLD.slug) EXECUTE FUNCTION article_slug_claim();
-- dialect: all

-- The tags' index: the tag filter and GET /api/tags (an answer's tagList is articles.tag_list).
-- The tags sort by their bytes (as tags.c sorts a tagList): SQLite's default; PostgreSQL's is
-- the database's locale, so its column says "C".
-- dialect: sqlite
CREATE TABLE IF NOT EXISTS article_tags (
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (article_id, tag)
);
-- dialect: postgres
CREATE TABLE IF NOT EXISTS article_tags (
  article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  tag TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (article_id, tag)
);
-- dialect: all
CREATE INDEX IF NOT EXISTS article_tags_tag ON article_tags(tag, article_id);

CREATE TABLE IF NOT EXISTS favorites (
  user_id INTEGER NOT NULL,            -- a user id
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, article_id)    -- by user: the favorited filter, the viewer's favorite
);
CREATE INDEX IF NOT EXISTS favorites_article ON favorites(article_id);
