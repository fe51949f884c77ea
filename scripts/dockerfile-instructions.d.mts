export function dockerfileInstructions(text: string): string[];
