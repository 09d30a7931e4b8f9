// Drives a running convos-gateway with LibreChat's own client package,
// `librechat-data-provider` (the `dataService` functions its web client
// calls), and prints what each call returned as JSON on stdout.
//
//   CONVOS_BASE_URL=http://127.0.0.1:3080 CONVOS_TOKEN=<jwt> \
//   CONVOS_FOREIGN_ID=<another user's conversationId> node scenario.mjs main|clear|clone|routes
//
// `main` lists (cursor paging as the web client's infinite list does, sorts,
// filters, search), gets, renames, archives, pins, manages tags and deletes
// one conversation; `clear` deletes all. Each step records either
// {"ok": true, "data": ...} or {"ok": false, "status": ..., "data": ...};
// the pytest side asserts on them and on the database.

import axios from 'axios';
import { dataService, setTokenHeader } from 'librechat-data-provider';

const baseURL = process.env.CONVOS_BASE_URL;
const token = process.env.CONVOS_TOKEN;
const foreignId = process.env.CONVOS_FOREIGN_ID ?? '';
const mode = process.argv[2] ?? 'main';
if (!baseURL || !token) {
  console.error('CONVOS_BASE_URL and CONVOS_TOKEN are required');
  process.exit(2);
}

// In Node the package builds relative URLs ('/api/convos'); the web client
// gets its origin from the page. Give axios the server instead.
axios.defaults.baseURL = baseURL;
// The way LibreChat's web client authenticates every request.
setTokenHeader(token);
if (axios.defaults.headers.common.Authorization !== `Bearer ${token}`) {
  // The package must use this same axios instance, or nothing below is real.
  throw new Error('librechat-data-provider uses another axios instance');
}

const results = {};

async function step(name, fn) {
  try {
    results[name] = { ok: true, data: await fn() };
  } catch (error) {
    if (error?.response) {
      results[name] = { ok: false, status: error.response.status, data: error.response.data };
    } else {
      results[name] = { ok: false, status: null, data: String(error?.stack ?? error) };
    }
  }
  return results[name];
}

// The web client's infinite list: the same params on every page, plus the
// cursor from the previous page's `nextCursor` until it is null.
async function listAll(params) {
  const pages = [];
  let cursor;
  for (let i = 0; i < 50; i += 1) {
    const page = await dataService.listConversations({ ...params, cursor });
    pages.push({
      ids: page.conversations.map((c) => c.conversationId),
      titles: page.conversations.map((c) => c.title),
      nextCursor: page.nextCursor ?? null,
    });
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return pages;
}

const webListParams = { isArchived: false, sortBy: 'updatedAt', sortDirection: 'desc', tags: [] };

async function main() {
  await step('healthCheck', () => dataService.healthCheck());
  await step('getSearchEnabled', () => dataService.getSearchEnabled());
  const paged = await step('listAllPages', () => listAll({ ...webListParams, limit: 10 }));
  const ids = paged.ok ? paged.data.flatMap((p) => p.ids) : [];
  await step('getConversationsFirstPage', () => dataService.getConversations(undefined));
  await step('listByTitle', () =>
    dataService.listConversations({ limit: 5, sortBy: 'title', sortDirection: 'asc' }),
  );
  await step('listSearch', () => dataService.listConversations({ search: 'needle' }));
  await step('listTagged', () => dataService.listConversations({ tags: ['work'] }));

  const [renamed, archived, pinned, tagged, deleted] = ids;
  await step('getConversationById', () => dataService.getConversationById(renamed));
  await step('updateConversation', () =>
    dataService.updateConversation({ conversationId: renamed, title: '  Renamed by client  ' }),
  );
  await step('archiveConversation', () =>
    dataService.archiveConversation({ conversationId: archived, isArchived: true }),
  );
  await step('listArchived', () => dataService.listConversations({ isArchived: true }));
  await step('pinConversation', () =>
    dataService.pinConversation({ conversationId: pinned, pinned: true }),
  );

  await step('getConversationTagsBefore', () => dataService.getConversationTags());
  await step('createConversationTag', () =>
    dataService.createConversationTag({ tag: 'client-tag', description: 'made by the client' }),
  );
  await step('createConversationTagOnConversation', () =>
    dataService.createConversationTag({
      tag: 'a/b c',
      addToConversation: true,
      conversationId: tagged,
    }),
  );
  await step('updateConversationTag', () =>
    dataService.updateConversationTag('client-tag', {
      tag: 'client-renamed',
      description: 'renamed by the client',
    }),
  );
  await step('addTagToConversation', () =>
    dataService.addTagToConversation(tagged, { tags: ['client-renamed', 'work', 'a/b c'] }),
  );
  await step('deleteConversationTag', () => dataService.deleteConversationTag('a/b c'));
  await step('getConversationTagsAfter', () => dataService.getConversationTags());

  await step('getForeignConversation', () => dataService.getConversationById(foreignId));
  await step('getMissingConversation', () => dataService.getConversationById('no-such-id'));
  await step('deleteConversation', () =>
    dataService.deleteConversation({ conversationId: deleted, source: 'button' }),
  );
  await step('listAfterDelete', () => listAll({ ...webListParams, limit: 100 }));
  results.ids = { renamed, archived, pinned, tagged, deleted, all: ids };
}

// Fork, duplicate, import and gen_title: what the client does after listing.
// CONVOS_SOURCE_ID/CONVOS_SOURCE_MESSAGE: a conversation with messages and one
// of them; CONVOS_UNTITLED_ID: a conversation still called "New Chat".
async function clone() {
  const source = process.env.CONVOS_SOURCE_ID ?? '';
  const message = process.env.CONVOS_SOURCE_MESSAGE ?? '';
  const untitled = process.env.CONVOS_UNTITLED_ID ?? '';
  await step('forkConversation', () =>
    dataService.forkConversation({
      conversationId: source,
      messageId: message,
      option: 'directPath',
      splitAtTarget: false,
    }),
  );
  await step('duplicateConversation', () =>
    dataService.duplicateConversation({ conversationId: source, title: 'Copied by client' }),
  );
  const exported = {
    conversationId: 'exported-id',
    title: 'Imported by client',
    endpoint: 'openAI',
    messages: [
      { messageId: 'm1', parentMessageId: '00000000-0000-0000-0000-000000000000',
        text: 'Hello from an export', isCreatedByUser: true, sender: 'User' },
      { messageId: 'm2', parentMessageId: 'm1', text: 'Hi!', isCreatedByUser: false,
        sender: 'GPT-4o' },
    ],
  };
  const form = new FormData();
  form.append('file', new Blob([JSON.stringify(exported)], { type: 'application/json' }),
    'export.json');
  await step('importConversationsFile', () => dataService.importConversationsFile(form));
  await step('genTitle', () => dataService.genTitle({ conversationId: untitled }));
}

// Opening a conversation, "rebuild" on the bookmarks panel, "archive all" in
// the settings. CONVOS_SOURCE_ID: a conversation with messages;
// CONVOS_FOREIGN_ID: another user's.
async function routes() {
  const source = process.env.CONVOS_SOURCE_ID ?? '';
  await step('getMessagesByConvoId', () => dataService.getMessagesByConvoId(source));
  await step('getForeignMessages', () => dataService.getMessagesByConvoId(foreignId));
  await step('getMissingMessages', () => dataService.getMessagesByConvoId('no-such-id'));
  await step('rebuildConversationTags', () => dataService.rebuildConversationTags());
  await step('archiveAllConversations', () => dataService.archiveAllConversations());
  await step('listAfterArchiveAll', () => dataService.listConversations({}));
  await step('listArchivedAfterArchiveAll', () =>
    dataService.listConversations({ isArchived: true, sortBy: 'archivedAt' }),
  );
  await step('archiveAllAgain', () => dataService.archiveAllConversations());
}

async function clear() {
  await step('clearAllConversations', () => dataService.clearAllConversations());
  await step('listAfterClear', () => dataService.listConversations({}));
  await step('getConversationTagsAfterClear', () => dataService.getConversationTags());
}

await ({ clear, clone, routes }[mode] ?? main)();
process.stdout.write(`${JSON.stringify(results)}\n`);
