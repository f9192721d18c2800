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
-- the slug in the same statement that writes it, so the UNIQUE refusal is the INSERT's or the
-- UPDATE's own, which write.c answers with a suffix; an article taking back a slug of its own is
-- no conflict.
CREATE TABLE IF NOT EXISTS article_slugs (
  slug TEXT NOT NULL UNIQUE,
  article_id INTEGER NOT NULL
);
-- once, when the table is new (the triggers keep it whole from then on): not a scan per start
INSERT OR IGNORE INTO article_slugs(slug, article_id) SELECT slug, id FROM articles
  WHERE NOT EXISTS (SELECT 1 FROM article_slugs);
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

-- The tags' index: the tag filter and GET /api/tags (an answer's tagList is articles.tag_list).
CREATE TABLE IF NOT EXISTS article_tags (
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (article_id, tag)
);
CREATE INDEX IF NOT EXISTS article_tags_tag ON article_tags(tag, article_id);

CREATE TABLE IF NOT EXISTS favorites (
  user_id INTEGER NOT NULL,            -- a user id
  article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, article_id)    -- by user: the favorited filter, the viewer's favorite
);
CREATE INDEX IF NOT EXISTS favorites_article ON favorites(article_id);
