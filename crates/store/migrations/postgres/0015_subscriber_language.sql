-- A subscriber's language (issue 21, part 4): a BCP 47 tag, checked and made canonical by the server. It chooses the
-- language of their device's feedback, of their guardians' notifications (unless a guardian has their own) and of
-- welfare checks, and tells the dispatcher which language the caller reads. Not sealed: it is read with every
-- incident the subscriber raises; it goes when the subscriber is erased (the row is deleted) and is never in the
-- analyst view. Existing subscribers read Korean, the service's language.
ALTER TABLE subscribers ADD COLUMN language TEXT NOT NULL DEFAULT 'ko';
