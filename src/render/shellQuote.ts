// One shell quoter for every command line we build (step scripts' exports,
// ssh's remote command, ctl's argv): single quotes, with a quote inside
// closed, escaped and reopened.
export const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;
