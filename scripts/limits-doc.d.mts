// Types of scripts/limits-doc.mjs, for the test that imports it.

export declare const BEGIN: string;
export declare const END: string;
export declare const ROW_CHARS_MAX: number;
export declare function limitEntries(source: string): { name: string; comment: string }[];
export declare function formatValue(name: string, value: unknown): string;
export declare function renderLimitsTable(
  source: string,
  limits: Readonly<Record<string, unknown>>,
): string;
export declare function replaceGenerated(page: string, table: string): string;
