import { useEffect, useRef, type ComponentPropsWithoutRef } from 'react';
import type { RgbaImage } from '../../runtime/engine-types';

type Props = { image: RgbaImage; className?: string; label: string } & Omit<ComponentPropsWithoutRef<'canvas'>, 'role' | 'aria-label'>;

/** Shows an RgbaImage; CSS decides the displayed size. Other props (pointer handlers) go to the canvas. */
export function RgbaCanvas({ image, className, label, ...rest }: Props) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    canvas.width = image.width;
    canvas.height = image.height;
    const ctx = canvas.getContext('2d');
    ctx?.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  }, [image]);
  return <canvas ref={ref} className={className} role="img" aria-label={label} {...rest} />;
}
