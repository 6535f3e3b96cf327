-- Every chat has its receipts row from its creation on (insertChat in src/routers/chats/create.ts):
-- a first read mark then updates the row instead of inserting it, so it takes no foreign-key lock
-- on the chat row while sends hold it.
INSERT INTO "chat_receipts" ("chat_id") SELECT "id" FROM "chats" ON CONFLICT ("chat_id") DO NOTHING;
