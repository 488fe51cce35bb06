-- The UI language a user chose, so that it follows them from one browser to another.
ALTER TABLE users ADD COLUMN language TEXT;
