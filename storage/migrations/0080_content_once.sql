-- Span content stored once, and a full-text index on words instead of every character.
--
-- Content once: input_text and output_text repeated the message JSON's text (half of every span's bytes,
-- written, merged and compressed twice). Rows now keep them in input_text_stored/output_text_stored only when
-- the text cannot be read back from the messages; bit 0 (input) and bit 1 (output) of text_derived say it
-- can (the collector checks it exactly, storage/rows.py), and the input_text/output_text columns every read
-- uses are aliases that join the messages' text parts with newlines. Rows stored before keep their text.
--
-- Word index: the 0001 index held every character bigram of input and output (about 5,000 per 6 KB span):
-- building it was 60% of the engine's insert time and was paid again at every merge. This one holds the
-- bigrams of each distinct word (ASCII-folded, split where splitByNonAlpha splits) and answers the same
-- substring searches: every bigram inside a word of the needle is inside a word of any text that contains
-- it (queries.text_clause). Existing parts get it from the MATERIALIZE mutation (in the background) or when
-- they merge; until then a search scans them, with the same answers.
ALTER TABLE ${table:spans}${on_cluster} DROP INDEX IF EXISTS idx_text;
ALTER TABLE ${table:spans}${on_cluster} ADD COLUMN IF NOT EXISTS text_derived UInt8 DEFAULT 0;
ALTER TABLE ${table:spans}${on_cluster} RENAME COLUMN IF EXISTS input_text TO input_text_stored;
ALTER TABLE ${table:spans}${on_cluster} RENAME COLUMN IF EXISTS output_text TO output_text_stored;
ALTER TABLE ${table:spans}${on_cluster} ADD COLUMN IF NOT EXISTS input_text String ALIAS if(bitTest(text_derived, 0),
    arrayStringConcat(arrayFlatten(tupleElement(tupleElement(JSONExtract(input_messages,
        'Array(Tuple(parts Array(Tuple(content String))))'), 'parts'), 'content')), '\n'), input_text_stored);
ALTER TABLE ${table:spans}${on_cluster} ADD COLUMN IF NOT EXISTS output_text String ALIAS if(bitTest(text_derived, 1),
    arrayStringConcat(arrayFlatten(tupleElement(tupleElement(JSONExtract(output_messages,
        'Array(Tuple(parts Array(Tuple(content String))))'), 'parts'), 'content')), '\n'), output_text_stored);
ALTER TABLE ${table:spans}${on_cluster}
    MODIFY COLUMN input_preview String MATERIALIZED substringUTF8(input_text, 1, 200) CODEC(ZSTD(3));
ALTER TABLE ${table:spans}${on_cluster}
    MODIFY COLUMN output_preview String MATERIALIZED substringUTF8(output_text, 1, 200) CODEC(ZSTD(3));
ALTER TABLE ${table:spans}${on_cluster} ADD INDEX IF NOT EXISTS idx_text
    arrayStringConcat(arrayDistinct(splitByNonAlpha(lower(concat(input_text, '\n', output_text)))), ' ')
    TYPE text(tokenizer = ngrams(2));
ALTER TABLE ${table:spans}${on_cluster} MATERIALIZE INDEX idx_text;
-- On a cluster the Distributed table takes the new columns by being made again over spans_local.
${cluster_only}DROP TABLE IF EXISTS spans${on_cluster} SYNC;
${distributed:spans:cityHash64(project, trace_id)};
