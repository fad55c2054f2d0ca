// The MySQL migration generator: Prisma's wasm schema engine has no MySQL connector, so `amorce dev migration`
// writes MySQL DDL itself, following Prisma's MySQL conventions, from Prisma's own reading of the schema (the DMMF,
// obtained by running `prisma generate` with a one-off generator that hands it back). It creates new tables (and
// their foreign keys and implicit many-to-many tables); a change to an existing table is refused with its name,
// to be written by hand (docs/migrations.md). Its output is checked against information_schema and CRUD through
// @prisma/adapter-mariadb by the tests (test/examples/notes-prisma.test.ts), and byte for byte against the
// reference app's hand-written MySQL migration (test/unit/prisma/mysql-generator.test.ts).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runPrismaCli } from './generate.ts'

// ---------------------------------------------------------------------------------------------
// The DMMF, as Prisma's generators receive it (the part this generator reads)

export interface DmmfField {
  name: string
  dbName?: string | null
  kind: 'scalar' | 'object' | 'enum' | 'unsupported'
  isList: boolean
  isRequired: boolean
  isId: boolean
  isUpdatedAt: boolean
  hasDefaultValue: boolean
  type: string
  nativeType?: [string, string[]] | null
  default?: unknown
  relationName?: string
  relationFromFields?: string[]
  relationToFields?: string[]
  relationOnDelete?: string
  relationOnUpdate?: string
}
export interface DmmfModel { name: string, dbName: string | null, fields: DmmfField[], primaryKey: { fields: string[] } | null }
export interface DmmfIndex { model: string, type: 'id' | 'unique' | 'normal' | 'fulltext', dbName?: string | null, fields: Array<{ name: string }> }
export interface DmmfEnum { name: string, values: Array<{ name: string, dbName: string | null }> }
export interface Datamodel { models: DmmfModel[], enums: DmmfEnum[], indexes: DmmfIndex[] }

/**
 * The generator Prisma's CLI spawns: it answers the manifest request and writes the datamodel it is given. Prisma
 * talks JSON-RPC to generators, one message a line on their stdin, answers on their stderr.
 */
const DMMF_GENERATOR = `import { writeFileSync } from 'node:fs'
import readline from 'node:readline'
const reply = (id, result) => process.stderr.write(JSON.stringify({ jsonrpc: '2.0', id, result }) + '\\n')
readline.createInterface({ input: process.stdin }).on('line', line => {
  const message = JSON.parse(line)
  if (message.method === 'getManifest') reply(message.id, { manifest: { prettyName: 'Amorce DMMF', requiresEngines: [] } })
  else if (message.method === 'generate') {
    writeFileSync(process.env.AMORCE_DMMF_OUT, JSON.stringify(message.params.dmmf.datamodel))
    reply(message.id, null)
  }
})
`

export class SchemaReadFailed extends Error {
  constructor (readonly output: string) {
    super('prisma could not read the schema')
  }
}

/** Prisma's datamodel of a schema file (its generator blocks replaced by the one-off one). */
export async function readDatamodel (root: string, schemaFile: string): Promise<Datamodel> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-dmmf-'))
  try {
    const generator = path.join(dir, 'generator.mjs')
    await writeFile(generator, DMMF_GENERATOR)
    const source = (await readFile(schemaFile, 'utf8')).replace(/^generator\s+\w+\s*\{[\s\S]*?^\}/gm, '')
    const schema = path.join(dir, 'schema.prisma')
    await writeFile(schema, `generator amorce_dmmf {\n  provider = ${JSON.stringify(`node ${generator}`)}\n  output   = "./out"\n}\n${source}`)
    const out = path.join(dir, 'datamodel.json')
    const r = await runPrismaCli(root, ['generate', '--schema', schema], { ...process.env, AMORCE_DMMF_OUT: out })
    if (r.code !== 0) throw new SchemaReadFailed(r.output)
    return JSON.parse(await readFile(out, 'utf8')) as Datamodel
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Prisma's MySQL DDL

export class UnsupportedForMysql extends Error {
  constructor (readonly what: string) {
    super(`the MySQL generator does not support ${what}: write this migration by hand (docs/migrations.md)`)
  }
}

const q = (name: string): string => `\`${name.replace(/`/g, '``')}\``
const literal = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`

/** Prisma's default MySQL column type for each scalar. */
const SCALAR_TYPES: Record<string, string> = {
  String: 'VARCHAR(191)', Int: 'INTEGER', BigInt: 'BIGINT', Boolean: 'BOOLEAN', DateTime: 'DATETIME(3)',
  Float: 'DOUBLE', Decimal: 'DECIMAL(65, 30)', Json: 'JSON', Bytes: 'LONGBLOB'
}

/** `@db.<Type>(args)` as Prisma renders it in MySQL DDL. */
function nativeType ([name, args]: [string, string[]]): string {
  const unsigned = /^Unsigned(\w+)$/.exec(name)
  if (unsigned) return `${nativeType([unsigned[1], args])} UNSIGNED`
  const base = name === 'Int' ? 'INTEGER' : name.toUpperCase()
  return args.length > 0 ? `${base}(${args.join(', ')})` : base
}

function columnType (field: DmmfField, enums: Map<string, DmmfEnum>): string {
  if (field.kind === 'enum') {
    const values = enums.get(field.type)?.values ?? []
    return `ENUM(${values.map(v => literal(v.dbName ?? v.name)).join(', ')})`
  }
  if (field.nativeType) return nativeType(field.nativeType)
  const type = SCALAR_TYPES[field.type]
  if (type === undefined) throw new UnsupportedForMysql(`the type ${field.type}`)
  return type
}

function columnDefault (field: DmmfField, type: string, enums: Map<string, DmmfEnum>): string {
  if (!field.hasDefaultValue || field.default === undefined) return ''
  const value = field.default
  if (typeof value === 'object' && value !== null && 'name' in value) {
    const fn = (value as { name: string }).name
    if (fn === 'autoincrement') return ' AUTO_INCREMENT'
    if (fn === 'now') return ` DEFAULT CURRENT_TIMESTAMP(${/\((\d+)\)/.exec(type)?.[1] ?? '0'})`
    if (['uuid', 'cuid', 'nanoid', 'ulid'].includes(fn)) return '' // generated by Prisma Client, not the database
    throw new UnsupportedForMysql(`@default(${fn}(…))`)
  }
  if (field.kind === 'enum') {
    const member = enums.get(field.type)?.values.find(v => v.name === value)
    return ` DEFAULT ${literal(member?.dbName ?? String(value))}`
  }
  if (typeof value === 'boolean') return ` DEFAULT ${value ? 'true' : 'false'}`
  if (typeof value === 'number') return ` DEFAULT ${value}`
  if (typeof value === 'string' && field.type === 'String') return ` DEFAULT ${literal(value)}`
  if (typeof value === 'string' && ['Int', 'BigInt', 'Float', 'Decimal'].includes(field.type)) return ` DEFAULT ${value}`
  throw new UnsupportedForMysql(`a default on a ${field.type} column`)
}

const RULES: Record<string, string> = { Cascade: 'CASCADE', Restrict: 'RESTRICT', NoAction: 'NO ACTION', SetNull: 'SET NULL', SetDefault: 'SET DEFAULT' }

export interface MysqlTable { name: string, create: string, foreignKeys: string[] }

const TABLE_OPTIONS = ' DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;'

function createTable (name: string, columns: string[], constraints: string[]): string {
  const body = columns.map(c => `    ${c}`).join(',\n') + (constraints.length > 0 ? ',\n\n' + constraints.map(c => `    ${c}`).join(',\n') : '')
  return `CREATE TABLE ${q(name)} (\n${body}\n)${TABLE_OPTIONS}`
}

/** The tables the datamodel describes, in Prisma's order: the models' tables, then the implicit m2m tables. */
export function mysqlTables (datamodel: Datamodel): MysqlTable[] {
  const enums = new Map(datamodel.enums.map(e => [e.name, e]))
  const models = new Map(datamodel.models.map(m => [m.name, m]))
  const tableOf = (model: DmmfModel): string => model.dbName ?? model.name
  const columnOf = (model: DmmfModel, fieldName: string): string => {
    const field = model.fields.find(f => f.name === fieldName)
    if (field === undefined) throw new UnsupportedForMysql(`the field ${model.name}.${fieldName}`)
    return field.dbName ?? field.name
  }
  const tables: MysqlTable[] = []
  for (const model of datamodel.models) {
    const table = tableOf(model)
    const columns: string[] = []
    for (const field of model.fields) {
      if (field.kind === 'object') continue
      if (field.kind === 'unsupported' || field.isList) throw new UnsupportedForMysql(`the field ${model.name}.${field.name}`)
      const type = columnType(field, enums)
      columns.push(`${q(field.dbName ?? field.name)} ${type} ${field.isRequired ? 'NOT NULL' : 'NULL'}${columnDefault(field, type, enums)}`)
    }
    const constraints: string[] = []
    let primaryKey: string[] = []
    for (const index of datamodel.indexes.filter(i => i.model === model.name)) {
      const cols = index.fields.map(f => columnOf(model, f.name))
      if (index.type === 'id') { primaryKey = cols; continue }
      if (index.type === 'fulltext') throw new UnsupportedForMysql(`the full-text index on ${model.name}`)
      const unique = index.type === 'unique'
      const indexName = index.dbName ?? `${table}_${cols.join('_')}_${unique ? 'key' : 'idx'}`
      constraints.push(`${unique ? 'UNIQUE INDEX' : 'INDEX'} ${q(indexName)}(${cols.map(q).join(', ')})`)
    }
    if (primaryKey.length > 0) constraints.push(`PRIMARY KEY (${primaryKey.map(q).join(', ')})`)
    const foreignKeys: string[] = []
    for (const field of model.fields.filter(f => f.kind === 'object' && (f.relationFromFields?.length ?? 0) > 0)) {
      const target = models.get(field.type)
      if (target === undefined) throw new UnsupportedForMysql(`the relation ${model.name}.${field.name}`)
      const from = field.relationFromFields!.map(f => columnOf(model, f))
      const to = field.relationToFields!.map(f => columnOf(target, f))
      const optional = field.relationFromFields!.some(f => !model.fields.find(x => x.name === f)?.isRequired)
      const onDelete = RULES[field.relationOnDelete ?? (optional ? 'SetNull' : 'Restrict')]
      const onUpdate = RULES[field.relationOnUpdate ?? 'Cascade']
      foreignKeys.push(`ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(`${table}_${from.join('_')}_fkey`)} FOREIGN KEY (${from.map(q).join(', ')}) ` +
        `REFERENCES ${q(tableOf(target))}(${to.map(q).join(', ')}) ON DELETE ${onDelete} ON UPDATE ${onUpdate};`)
    }
    tables.push({ name: table, create: createTable(table, columns, constraints), foreignKeys })
  }
  // Implicit many-to-many: `_<relation>` with A (the model whose name sorts first) and B, as Prisma makes it.
  const seen = new Set<string>()
  for (const model of datamodel.models) {
    for (const field of model.fields) {
      if (field.kind !== 'object' || !field.isList || field.relationName === undefined || seen.has(field.relationName)) continue
      const other = models.get(field.type)
      const back = other?.fields.find(f => f.relationName === field.relationName && f !== field)
      if (other === undefined || back === undefined || !back.isList) continue
      seen.add(field.relationName)
      const [a, b] = [model, other].sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
      const idOf = (m: DmmfModel): DmmfField => {
        const ids = m.fields.filter(f => f.isId)
        if (ids.length !== 1) throw new UnsupportedForMysql(`the many-to-many relation ${field.relationName} (its models need a single @id)`)
        return ids[0]
      }
      const [idA, idB] = [idOf(a), idOf(b)]
      const name = `_${field.relationName}`
      const typeOf = (id: DmmfField): string => columnType({ ...id, hasDefaultValue: false }, enums)
      tables.push({
        name,
        create: createTable(name, [`${q('A')} ${typeOf(idA)} NOT NULL`, `${q('B')} ${typeOf(idB)} NOT NULL`],
          [`UNIQUE INDEX ${q(`${name}_AB_unique`)}(${q('A')}, ${q('B')})`, `INDEX ${q(`${name}_B_index`)}(${q('B')})`]),
        foreignKeys: [
          `ALTER TABLE ${q(name)} ADD CONSTRAINT ${q(`${name}_A_fkey`)} FOREIGN KEY (${q('A')}) REFERENCES ${q(tableOf(a))}(${q(idA.dbName ?? idA.name)}) ON DELETE CASCADE ON UPDATE CASCADE;`,
          `ALTER TABLE ${q(name)} ADD CONSTRAINT ${q(`${name}_B_fkey`)} FOREIGN KEY (${q('B')}) REFERENCES ${q(tableOf(b))}(${q(idB.dbName ?? idB.name)}) ON DELETE CASCADE ON UPDATE CASCADE;`
        ]
      })
    }
  }
  return tables
}

/** The `CREATE TABLE` statements an existing MySQL history made, by table (the last one wins), minus dropped tables. */
export function historyTables (scripts: readonly string[]): Map<string, string> {
  const tables = new Map<string, string>()
  for (const script of scripts) {
    for (const m of script.matchAll(/^CREATE TABLE `((?:[^`]|``)+)` \([\s\S]*?^\)[^;\n]*;/gm)) tables.set(m[1].replace(/``/g, '`'), m[0])
    for (const m of script.matchAll(/^DROP TABLE `((?:[^`]|``)+)`;/gm)) tables.delete(m[1].replace(/``/g, '`'))
  }
  return tables
}

export class MysqlChangeUnsupported extends Error {
  constructor (readonly tables: string[]) {
    super(`tables changed or removed since the last MySQL migration: ${tables.join(', ')}`)
  }
}

/**
 * The next MySQL migration: the tables the history has not created yet, and their foreign keys; `empty` when the
 * history already creates every table exactly as the datamodel describes them.
 */
export function nextMysqlScript (datamodel: Datamodel, history: readonly string[]): { empty: boolean, script: string } {
  const existing = historyTables(history)
  const tables = mysqlTables(datamodel)
  const wanted = new Set(tables.map(t => t.name))
  const changed = tables.filter(t => existing.has(t.name) && existing.get(t.name) !== t.create).map(t => t.name)
  const removed = [...existing.keys()].filter(name => !wanted.has(name))
  if (changed.length > 0 || removed.length > 0) throw new MysqlChangeUnsupported([...changed, ...removed])
  const added = tables.filter(t => !existing.has(t.name))
  if (added.length === 0) return { empty: true, script: '' }
  const parts = [
    ...added.map(t => `-- CreateTable\n${t.create}`),
    ...added.flatMap(t => t.foreignKeys).map(fk => `-- AddForeignKey\n${fk}`)
  ]
  return { empty: false, script: parts.join('\n\n') + '\n' }
}
