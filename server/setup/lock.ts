// What an installed app still needs of the install, apart from the wizard's code (which normal mode never
// loads): the install lock's key in the database and the journal file, stale once installed.
import { rm } from 'node:fs/promises'
import path from 'node:path'

/** The install lock's copy in the database (the .env's APP_INSTALLED_AT is the other). */
export const INSTALL_LOCK_SETTING = 'install:completedAt'

export const JOURNAL_FILE = 'install-journal.json'

export function journalPath (dataDir: string): string {
  return path.join(dataDir, JOURNAL_FILE)
}

export async function removeJournal (dataDir: string): Promise<void> {
  await rm(journalPath(dataDir), { force: true })
}
