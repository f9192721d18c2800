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
