// The tables a backup holds, derived from the Prisma model source (prisma/models.prisma): every model, its scalar
// columns with their Prisma types, and foreign-key order. A new model is picked up without touching this code.
import { readFileSync } from 'node:fs'
import { fromPackageRoot } from '../paths.ts'

/** The Prisma scalar types a column can have; enums are stored and carried as strings. */
export const COLUMN_TYPES = ['Int', 'BigInt', 'Float', 'Decimal', 'String', 'Boolean', 'DateTime', 'Json', 'Bytes'] as const
export type ColumnType = typeof COLUMN_TYPES[number]

export interface ColumnSpec {
  /** The database column name (`@map`, else the field name). */
  name: string
  type: ColumnType
  nullable: boolean
  /** `@default(autoincrement())`: its sequence / counter must continue after the highest restored value. */
  autoincrement?: boolean
}

export interface TableSpec {
  /** The database table name (`@@map`, else the model name). */
  name: string
  columns: ColumnSpec[]
  /** Columns of the primary key (`@id`, `@@id`, else the first `@unique`): the read order of a backup. */
  key: string[]
  /** Tables this one references. */
  references: string[]
}

const SCALARS = new Set<string>(COLUMN_TYPES)
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

export const MODELS_FILE = fromPackageRoot('prisma', 'models.prisma')

/** Reads the models of a Prisma schema text, in foreign-key order (a table comes after those it references). */
export function tablesFromSchema (source: string): TableSpec[] {
  const text = source.replace(/\/\/.*$/gm, '')
  const enums = new Set([...text.matchAll(/^\s*enum\s+(\w+)\s*\{/gm)].map(m => m[1]))
  const models = [...text.matchAll(/^\s*model\s+(\w+)\s*\{([^}]*)\}/gm)]
  const modelNames = new Set(models.map(m => m[1]))
  const tableOf = new Map<string, string>()
  const parsed = models.map(([, model, body]) => {
    const mapped = body.match(/@@map\(\s*(?:name:\s*)?"([^"]+)"\s*\)/)?.[1]
    tableOf.set(model, mapped ?? model)
    const columns: ColumnSpec[] = []
    const key: string[] = []
    const unique: string[] = []
    const referencedModels: string[] = []
    const fieldColumn = new Map<string, string>()
    for (const line of body.split('\n')) {
      const m = line.trim().match(/^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/)
      if (!m) continue
      const [, field, type, list, optional, attrs] = m
      if (modelNames.has(type)) {
        // A relation field: the referenced model comes first when this side holds the foreign key.
        if (/@relation\([^)]*fields\s*:/.test(attrs)) referencedModels.push(type)
        continue
      }
      if (list) throw new Error(`${model}.${field}: list columns are not supported by the backup format`)
      const column = attrs.match(/@map\(\s*(?:name:\s*)?"([^"]+)"\s*\)/)?.[1] ?? field
      fieldColumn.set(field, column)
      const spec: ColumnSpec = { name: column, type: enums.has(type) ? 'String' : scalar(model, field, type), nullable: Boolean(optional) }
      if (/@default\(\s*autoincrement\(\)\s*\)/.test(attrs)) spec.autoincrement = true
      columns.push(spec)
      if (/@id\b/.test(attrs)) key.push(column)
      if (/@unique\b/.test(attrs)) unique.push(column)
    }
    const compoundId = body.match(/@@id\(\s*(?:fields:\s*)?\[([^\]]*)\]/)?.[1]
    if (key.length === 0 && compoundId) key.push(...compoundId.split(',').map(f => fieldColumn.get(f.trim()) ?? f.trim()))
    if (key.length === 0 && unique.length > 0) key.push(unique[0])
    if (key.length === 0) throw new Error(`${model}: a model without @id, @@id or @unique cannot be read in a stable order`)
    return { model, columns, key, referencedModels }
  })
  const tables: TableSpec[] = parsed.map(p => ({
    name: tableOf.get(p.model)!,
    columns: p.columns,
    key: p.key,
    references: [...new Set(p.referencedModels.map(m => tableOf.get(m)!))].filter(t => t !== tableOf.get(p.model))
  }))
  for (const table of tables) {
    if (!IDENT.test(table.name) || table.columns.some(c => !IDENT.test(c.name))) throw new Error(`${table.name}: names must be plain identifiers`)
  }
  return foreignKeyOrder(tables)
}

function scalar (model: string, field: string, type: string): ColumnType {
  if (!SCALARS.has(type)) throw new Error(`${model}.${field}: type ${type} is not supported by the backup format`)
  return type as ColumnType
}

/** Topological order, stable on the schema's own order; a reference cycle keeps the schema order for its members. */
export function foreignKeyOrder (tables: TableSpec[]): TableSpec[] {
  const ordered: TableSpec[] = []
  const placed = new Set<string>()
  const remaining = [...tables]
  while (remaining.length > 0) {
    const index = remaining.findIndex(t => t.references.every(r => placed.has(r) || !remaining.some(o => o.name === r)))
    const next = remaining.splice(index === -1 ? 0 : index, 1)[0]
    ordered.push(next)
    placed.add(next.name)
  }
  return ordered
}

let cached: TableSpec[] | undefined

/** This app's tables, from prisma/models.prisma. */
export function appTables (): TableSpec[] {
  cached ??= tablesFromSchema(readFileSync(MODELS_FILE, 'utf8'))
  return cached
}

export function isIdentifier (name: string): boolean {
  return IDENT.test(name)
}
