-- Full text: index the distinct words of a span instead of every character of it.
-- The 0001 index held every character bigram of input and output (about 5,000 per 6 KB span): building it
-- was 60% of the engine's insert time and was paid again at every merge. This one holds the bigrams of each
-- distinct word (ASCII-folded, split where splitByNonAlpha splits), about 7x less work on chat text, and
-- answers the same substring searches: every bigram inside a word of the needle is inside a word of any text
-- that contains it (queries.text_clause). Case-insensitive bigrams outside ASCII cannot use it and are left to
-- the substring check that follows.
-- Existing parts get the index by the MATERIALIZE mutation below (in the background) or when they merge;
-- until then a search scans them, with the same answers.
ALTER TABLE ${table:spans}${on_cluster} DROP INDEX IF EXISTS idx_text;
ALTER TABLE ${table:spans}${on_cluster} ADD INDEX IF NOT EXISTS idx_text
    arrayStringConcat(arrayDistinct(splitByNonAlpha(lower(concat(input_text, '\n', output_text)))), ' ')
    TYPE text(tokenizer = ngrams(2));
ALTER TABLE ${table:spans}${on_cluster} MATERIALIZE INDEX idx_text;
