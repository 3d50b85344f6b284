-- Operators' settings take effect in Redis first and reach PostgreSQL later
-- (a sync, from any server): each write carries the version Redis gave the
-- change, and only a newer version replaces the stored one, so a late or
-- repeated sync never puts older settings back.
ALTER TABLE concerts
    ADD COLUMN settings_version bigint NOT NULL DEFAULT 0;
