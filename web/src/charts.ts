// ECharts, with only the parts the console draws (tree-shaken).
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, LegendComponent, TitleComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, TitleComponent, SVGRenderer]);
export { echarts };

export function chart(el: HTMLElement, option: echarts.EChartsCoreOption, signal: AbortSignal) {
  const c = echarts.init(el, undefined, { renderer: 'svg' });
  c.setOption({ animation: false, textStyle: { fontFamily: 'system-ui, sans-serif' }, ...option });
  const resize = () => c.resize();
  window.addEventListener('resize', resize);
  signal.addEventListener('abort', () => { window.removeEventListener('resize', resize); c.dispose(); });
  return c;
}
