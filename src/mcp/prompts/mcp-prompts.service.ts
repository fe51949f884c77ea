import { Injectable } from '@nestjs/common';
import { ErrorCode, type GetPromptResult, type Prompt } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcError } from '../json-rpc-error.js';

const EXPLORE: Prompt = {
  name: 'explore_database',
  title: 'Explore a ClickHouse database',
  description: 'Guides the assistant through the schema of one database before it writes queries about it.',
  arguments: [
    { name: 'database', description: 'Database to explore (default: the configured one)', required: false },
    { name: 'question', description: 'What you want to find out, if you already know', required: false },
  ],
};

/**
 * Prompts. altinity-mcp has none; we offer one that teaches the model to look before it queries, which
 * is what most bad SQL from assistants lacks.
 */
@Injectable()
export class McpPromptsService {
  list(): Prompt[] {
    return [EXPLORE];
  }

  get(name: string, args: Record<string, string>): GetPromptResult {
    if (name !== EXPLORE.name) throw new JsonRpcError(ErrorCode.InvalidParams, `unknown prompt "${name}"`);
    const database = args.database?.trim() || 'the configured database';
    const question = args.question?.trim();
    const text = [
      `Explore the ClickHouse database ${database} before answering.`,
      '1. Read the resource clickhouse://schema to see which tables and views exist (or use list_tables if available).',
      '2. For each table that looks relevant, read clickhouse://table/{database}/{table} to learn its columns, types and sorting key.',
      '3. Query small samples with execute_query (always add LIMIT) to confirm what the values look like.',
      '4. Prefer aggregations in ClickHouse over fetching raw rows; results are capped by the server.',
      question ? `Then answer: ${question}` : 'Then summarise what the database holds and suggest useful questions.',
    ].join('\n');
    return { description: EXPLORE.description, messages: [{ role: 'user', content: { type: 'text', text } }] };
  }
}
