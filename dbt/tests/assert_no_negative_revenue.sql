-- Revenue is never negative, at line, daily and customer level.
select 'int_order_lines_enriched' as model, cast(order_line_id as varchar) as key, line_revenue as revenue
from {{ ref('int_order_lines_enriched') }}
where line_revenue < 0

union all

select 'fct_daily_sales', cast(order_date as varchar) || '/' || cast(product_id as varchar), revenue
from {{ ref('fct_daily_sales') }}
where revenue < 0

union all

select 'customer_lifetime_value', cast(customer_id as varchar), lifetime_value
from {{ ref('customer_lifetime_value') }}
where lifetime_value < 0
